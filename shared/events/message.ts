// What the event parser hands on: the batch's messages, and the entries that are no message at all.

/** An entry that is no message at all (or an event that is not JSON): a dead letter without a rule. */
export interface PoisonEntry {
  /** Position in the batch. */
  index: number
  reason: string
  messageId?: string
  /** The batch entry verbatim (or the raw text of an event that was not JSON). */
  event: unknown
  /** `event` is the whole event the bridge received, not one entry of a batch. */
  wholeEvent?: true
  /** `event` holds text: what was received was not JSON, or cannot be kept as JSON. */
  eventText?: true
  /** The bytes received were not valid UTF-8: `event` is their decoding, not what was received (never replayed). */
  lossy?: true
}

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
  /** The entry exactly as received, for the dead letters. */
  raw: unknown
}

export interface ParsedEvent {
  shape: 'event-streaming' | 'event-driven' | 'raw-data' | 'unparsable'
  messages: RocketMessage[]
  /** Entries that are no message at all (or an event that is not JSON), as dead letters without a rule. */
  poison: PoisonEntry[]
  /** Number of entries in the event (messages + poison). */
  received: number
}
