// One record per message, carried as data from planning to the summary (Powertools' batch processor is
// the model: each record succeeds or fails as a value; one decision is taken at the end).
import type { DeadLetter } from '../dead-letters/record.js'
import { storableDeadLetter } from '../dead-letters/storable.js'
import type { Publish } from '../mapping/publish.js'

/** Not published: this message was delivered already, by this batch or by this instance. */
export interface Duplicate {
  status: 'duplicate'
  index: number
  ruleId: string
  messageId?: string
  seen: 'in this batch' | 'by this instance'
}

/** Cannot be delivered, ever: it goes to the dead letters with its reason. */
export interface DeadLettered {
  status: 'dead-letter'
  deadLetter: DeadLetter
}

/** What planning makes of one entry of the event. */
export type Planned = { status: 'publish'; publish: Publish; event: unknown } | Duplicate | DeadLettered

/** What became of one entry of the event. */
export type MessageResult =
  | { status: 'published'; publish: Publish }
  | Duplicate
  | DeadLettered
  /** Not acknowledged for a transient reason: the invocation fails, so Function Compute retries it. */
  | { status: 'failed'; publish: Publish; reason: string }

/**
 * A dead letter keeps its entry verbatim as JSON. An entry that cannot be (nested thousands deep) is kept
 * as its JSON text instead, and the reason says so, so that storing it cannot fail on every retry.
 */
export function deadLettered(fields: Omit<DeadLetter, 'event'>, event: unknown): DeadLettered {
  return { status: 'dead-letter', deadLetter: storableDeadLetter(fields, event) }
}

/** The position in the batch of the entry a record stands for. */
export function indexOf(r: MessageResult | Planned): number {
  switch (r.status) {
    case 'dead-letter':
      return r.deadLetter.index
    case 'duplicate':
      return r.index
    default:
      return r.publish.index
  }
}
