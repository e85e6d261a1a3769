// One record per message, carried as data from planning to the summary (Powertools' batch processor is
// the model: each record succeeds or fails as a value; one decision is taken at the end).

import { storableDeadLetter } from '../dead-letters/json-text.js'
import type { DeadLetter } from '../dead-letters/record.js'
import { formatDuration } from '../duration.js'
import type { Expiry } from '../mapping/deadline.js'
import type { Publish, RouteTaken } from '../mapping/publish.js'

/** Not published: this message was delivered already, by this batch, by this instance, or by the fleet within its window. */
export interface Duplicate {
  status: 'duplicate'
  index: number
  ruleId: string
  messageId?: string
  seen: 'in this batch' | 'by this instance' | 'by the fleet'
}

/** Cannot be delivered, ever: it goes to the dead letters with its reason. */
export interface DeadLettered {
  status: 'dead-letter'
  deadLetter: DeadLetter
}

/** No route of its rule accepts it, and the rule says `unmatched: skip`: neither published nor dead-lettered. */
export interface Filtered {
  status: 'filtered'
  index: number
  ruleId: string
  messageId?: string
}

/**
 * To be published: the route it took, and with `ordering: message-group` its group (the publish stage
 * keeps a group in order, one in flight; docs/rules.md, "Ordered delivery per message group").
 */
export interface ToPublish {
  status: 'publish'
  publish: Publish
  event: unknown
  route: RouteTaken
  messageGroup?: string
  /** With a delivery deadline: when it was sent, by what, and when it expires (`publish.expiresAt`). */
  expiry?: Expiry
}

/**
 * Past its delivery deadline: never published, counted once as expired (docs/rules.md, "Delivery deadlines").
 * With `onExpired: dead-letter` it is stored too (`deadLetter`, failure "expired"), and never redriven.
 */
export interface Expired {
  status: 'expired'
  index: number
  ruleId: string
  messageId?: string
  /** How old it was when it was given up, in ms, counted from `from`. */
  ageMs: number
  deadline: string
  from: string
  deadLetter?: DeadLetter
}

/** What planning makes of one entry of the event. */
export type Planned = ToPublish | Duplicate | DeadLettered | Filtered

/** What became of one entry of the event. */
export type MessageResult =
  | { status: 'published'; publish: Publish }
  | Duplicate
  | DeadLettered
  | Filtered
  | Expired
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
    case 'filtered':
    case 'expired':
      return r.index
    default:
      return r.publish.index
  }
}

/** The record of a message given up at `now` because its deadline passed (`expiry` from planning). */
export function expired(p: ToPublish, expiry: Expiry, now: number): Expired {
  const { publish, event } = p
  const ageMs = Math.max(0, now - expiry.sentAt)
  const ids = publish.messageId !== undefined ? { messageId: publish.messageId } : {}
  const record: Expired = {
    status: 'expired',
    index: publish.index,
    ruleId: publish.ruleId,
    ...ids,
    ageMs,
    deadline: expiry.deadline.text,
    from: expiry.from,
  }
  if (expiry.deadline.onExpired === 'dead-letter') {
    const reason = `expired: ${formatDuration(ageMs)} old (counted from ${expiry.from}), past its deadline of ${expiry.deadline.text}; not published`
    record.deadLetter = deadLettered(
      { index: publish.index, reason, ruleId: publish.ruleId, ...ids, failure: 'expired', ageMs },
      event,
    ).deadLetter
  }
  return record
}
