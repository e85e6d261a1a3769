// What the event parser hands on: the batch's messages, and the entries that are no message at all.

/** One RocketMQ message, as the bridge needs it. */
export interface RocketMessage {
  /** Position in the batch, for ordering and error messages. */
  index: number
  messageId?: string
  instanceId?: string
  topic: string
  tags?: string
  userProperties: Record<string, string>
  body: string
  /** CloudEvent `time`, when the shape has it: the basis of the lag figure. */
  time?: string
  /** The entry exactly as received, for the dead letters. */
  raw: unknown
}

/** An entry that is not a valid message, or an event that is not JSON at all. */
export interface PoisonEntry {
  index: number
  reason: string
  messageId?: string
  raw: unknown
}

export interface ParsedEvent {
  shape: 'event-streaming' | 'event-driven' | 'raw-data' | 'unparsable'
  messages: RocketMessage[]
  poison: PoisonEntry[]
  /** Number of entries in the event (messages + poison). */
  received: number
}
