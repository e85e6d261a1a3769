// What mapping hands on: one MQTT publish per deliverable message.
import type { Deadline } from '../rules/deadline.js'
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
  /**
   * Epoch ms of its delivery deadline (mapping/deadline.ts): no PUBLISH is written with less than a second
   * left, and on MQTT 5 its expiry interval is at most the time left.
   */
  expiresAt?: number
}

/** What becomes of a message that can be mapped. */
export type Mapped =
  /** `messageGroup`: set when the rule says `ordering: message-group` and the message has a group. */
  /** `deadline`: set when the rule (or its route, or the defaults) sets one; planning checks it. */
  | { kind: 'publish'; publish: Publish; route: RouteTaken; messageGroup?: string; deadline?: Deadline }
  /** No route accepts it and the rule says `unmatched: skip`: neither published nor dead-lettered. */
  | { kind: 'filtered'; reason: string; ruleId: string }

/** A mapped message, or why it cannot be mapped (a dead letter), with its rule when one took it. */
export type MapResult = { ok: true; value: Mapped } | { ok: false; reason: string; ruleId?: string }
