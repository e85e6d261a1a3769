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

export type MapResult = { ok: true; publish: Publish } | { ok: false; reason: string; ruleId?: string }
