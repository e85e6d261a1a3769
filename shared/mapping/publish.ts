// What mapping hands on: one MQTT publish per deliverable message.

export type QoS = 0 | 1 | 2

/** MQTT 5 publish properties; sent only on version-5 connections. */
export interface V5Properties {
  userProperties?: Record<string, string | string[]>
  messageExpiryInterval?: number
  contentType?: string
}

export interface Publish {
  ruleId: string
  messageId?: string
  /** Position in the batch. */
  index: number
  topic: string
  qos: QoS
  retain: boolean
  payload: Buffer
  properties?: V5Properties
}

/** Which of its rule's routes a message took (its position in `routes`), or the rule's target. */
export type RouteTaken = number | 'target'

export type MapResult =
  /** `messageGroup`: set when the rule says `ordering: message-group` and the message has a group. */
  | { ok: true; publish: Publish; route: RouteTaken; messageGroup?: string }
  | { ok: false; filtered?: false; reason: string; ruleId?: string }
  /** No route accepts it and the rule says `unmatched: skip`: neither published nor dead-lettered. */
  | { ok: false; filtered: true; reason: string; ruleId: string }
