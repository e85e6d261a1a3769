// What mapping hands on: one MQTT publish per deliverable message.
import type { QoS, RouteTaken } from '../rules/route.js'

export type { QoS, RouteTaken } from '../rules/route.js'

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

/** What becomes of a message that can be mapped. */
export type Mapped =
  /** `messageGroup`: set when the rule says `ordering: message-group` and the message has a group. */
  | { kind: 'publish'; publish: Publish; route: RouteTaken; messageGroup?: string }
  /** No route accepts it and the rule says `unmatched: skip`: neither published nor dead-lettered. */
  | { kind: 'filtered'; reason: string; ruleId: string }

/** A mapped message, or why it cannot be mapped (a dead letter), with its rule when one took it. */
export type MapResult = { ok: true; value: Mapped } | { ok: false; reason: string; ruleId?: string }
