// Handing poison messages from the bridge to DEAD_LETTER_TARGET. A failed hand-off throws, so the
// invocation fails and nothing is lost silently.
import type { DeadLetterTarget } from './config.js'
import { appendDeadLetters, entryKey, fingerprint, type DeadLetterEntry } from './dead-letter-store.js'
import { DeadLetterError } from './errors.js'
import type { FcContext } from './fc-context.js'

/** One poison message as the bridge reports it. */
export interface PoisonMessage {
  reason: string
  ruleId?: string
  messageId?: string
  /** Position in the batch. */
  index: number
  /** The batch entry verbatim (or the raw text of an event that was not JSON). */
  event: unknown
}

/** What the bridge sends to the dead-letter function (and what a file: target stores directly). */
export interface PoisonRecord {
  kind: 'rocketmq-mqtt-bridge.poison'
  requestId: string
  failedAt: string
  messages: PoisonMessage[]
}

export interface DeadLetterSink {
  readonly description: string
  /** Stores or forwards the record; throws DeadLetterError when it cannot, so the invocation fails. */
  send(record: PoisonRecord, context: FcContext): Promise<void>
}

/** A poison message is the same dead letter whenever it comes back: key by message ID (or content) and rule. */
export function poisonEntries(record: PoisonRecord): DeadLetterEntry[] {
  return record.messages.map((m) => ({
    key: entryKey('poison', m.ruleId, m.messageId ?? fingerprint(m.event)),
    reason: m.reason,
    ...(m.ruleId !== undefined ? { ruleId: m.ruleId } : {}),
    ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
    requestId: record.requestId,
    source: 'bridge-poison',
    firstFailureAt: record.failedAt,
    lastFailureAt: record.failedAt,
    attempts: 1,
    event: m.event,
  }))
}

class FileSink implements DeadLetterSink {
  readonly description: string
  constructor(private readonly dir: string) {
    this.description = `file:${dir}`
  }

  async send(record: PoisonRecord): Promise<void> {
    try {
      await appendDeadLetters(this.dir, poisonEntries(record))
    } catch (err) {
      throw new DeadLetterError(this.description, record.messages.length, err)
    }
  }
}

export function createDeadLetterSink(target: DeadLetterTarget): DeadLetterSink {
  if (target.kind === 'file') return new FileSink(target.dir)
  // Refused at configuration time until the fc: hand-off exists; this keeps the type honest.
  throw new Error(`dead-letter target fc:${target.functionName} is not supported yet`)
}
