// What mapping hands on: one MQTT publish per deliverable message.
import type { Deadline } from '../rules/deadline.js'

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
  /**
   * Epoch ms of its delivery deadline (mapping/deadline.ts): no PUBLISH is written with less than a second
   * left, and on MQTT 5 its expiry interval is at most the time left.
   */
  expiresAt?: number
}

/** Which of its rule's routes a message took (its position in `routes`), or the rule's target. */
export type RouteTaken = number | 'target'

export type MapResult =
  /** `messageGroup`: set when the rule says `ordering: message-group` and the message has a group. */
  /** `deadline`: set when the rule (or its route, or the defaults) sets one; planning checks it. */
  | { ok: true; publish: Publish; route: RouteTaken; messageGroup?: string; deadline?: Deadline }
  | { ok: false; filtered?: false; reason: string; ruleId?: string }
  /** No route accepts it and the rule says `unmatched: skip`: neither published nor dead-lettered. */
  | { ok: false; filtered: true; reason: string; ruleId: string }
