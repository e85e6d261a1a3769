// What the event parser hands on: the batch's messages, and the entries that are no message at all.
import type { DeadLetter } from '../dead-letters/record.js'
import type { EventTime } from './event-time.js'

/** One RocketMQ message, as the bridge needs it. */
export interface RocketMessage {
  /** Position in the batch, for ordering and error messages. */
  index: number
  messageId?: string
  instanceId?: string
  topic: string
  tags?: string
  /** RocketMQ's message keys (`KEYS`), as routes and filters read them. */
  keys?: string
  /**
   * The RocketMQ message group (5.x FIFO topics; the sharding key of ordered messages), when the event
   * carries it as `__SHARDINGKEY` (docs/platform-facts.md §8.4): one group is delivered in order.
   */
  messageGroup?: string
  /** No prototype: `__proto__` or `toString` is an ordinary name here (docs/reliability.md, "Prototype-safe maps"). */
  userProperties: Record<string, string>
  body: string
  /** CloudEvent `time`, when the shape has it: the basis of the lag figure. */
  time?: string
  /** When it was sent, as far as the event says (event-time.ts): the basis of a deadline without deadlineFrom. */
  sentAt?: EventTime
  /** The entry exactly as received, for the dead letters. */
  raw: unknown
}

export interface ParsedEvent {
  shape: 'event-streaming' | 'event-driven' | 'raw-data' | 'unparsable'
  messages: RocketMessage[]
  /** Entries that are no message at all (or an event that is not JSON), as dead letters without a rule. */
  poison: DeadLetter[]
  /** Number of entries in the event (messages + poison). */
  received: number
}
