// A positive barrier before counting "nothing more arrived": sentinel messages published after the
// messages under test, one per topic and QoS they used, and awaited at every subscriber. MQTT keeps
// order per topic and QoS from one publisher, so through the same bridge (whose pool sends a topic over
// one connection, in order) a sentinel arrives only after everything that bridge sent before it there.
import { connectAsync } from 'mqtt'
import { cloudEvent } from './scenario.js'
import type { Received, Subscriber } from './subscriber.js'

/** A topic and QoS level: the unit MQTT orders messages in. */
export interface Lane {
  topic: string
  qos: number
}

export interface Sentinel extends Lane {
  payload: string
}

/** Publishes the sentinels, in order, and resolves once the broker has them. */
export type SentinelSender = (sentinels: Sentinel[]) => Promise<void>

const PREFIX = 'sentinel:'
let barriers = 0

/** The scenario rules' RocketMQ topic for each MQTT parent topic (test/helpers/scenario.ts). */
const ROCKETMQ_TOPIC: Record<string, { topic: string; base64: boolean }> = {
  devices: { topic: 'device-commands', base64: false },
  telemetry: { topic: 'telemetry', base64: false },
  firmware: { topic: 'firmware', base64: true },
}

/**
 * Sentinels as RocketMQ messages for the scenario rules, sent by the bridge under test (`handle` runs one
 * invocation of it), so they share its connections and follow what it sent before.
 */
export function viaBridge(handle: (event: unknown[]) => Promise<{ published: number }>): SentinelSender {
  return async (sentinels) => {
    const event = sentinels.map((s, i) => {
      const parent = s.topic.split('/')[0]!
      const rule = ROCKETMQ_TOPIC[parent]
      if (!rule) throw new Error(`no scenario rule publishes to ${s.topic}`)
      const sub = s.topic.slice(parent.length)
      return cloudEvent(i, {
        topic: rule.topic,
        userProperties: { ...(sub ? { mqttSecondTopic: sub } : {}), qoslevel: String(s.qos) },
        body: rule.base64 ? Buffer.from(s.payload).toString('base64') : s.payload,
        uniq: s.payload,
      })
    })
    const summary = await handle(event)
    if (summary.published !== sentinels.length)
      throw new Error(`the bridge published ${summary.published} of ${sentinels.length} sentinels`)
  }
}

/**
 * Sentinels from a plain MQTT client. MQTT orders nothing across publishers: use it only after the
 * publisher under test is gone and every message it sent was acknowledged, so the broker took them
 * before this sentinel existed.
 */
export function viaClient(url: string): SentinelSender {
  return async (sentinels) => {
    const client = await connectAsync(url, { clientId: `test-sentinel-${Math.random().toString(36).slice(2, 10)}`, reconnectPeriod: 0 })
    try {
      for (const s of sentinels) await client.publishAsync(s.topic, s.payload, { qos: s.qos as 0 | 1 | 2 })
    } finally {
      await client.endAsync()
    }
  }
}

/** Sends one sentinel per distinct lane and waits until every subscriber received all of them. */
export async function barrier(send: SentinelSender, subscribers: Subscriber[], lanes: Iterable<Lane>, timeoutMs = 20000): Promise<void> {
  const distinct = new Map<string, Lane>()
  for (const l of lanes) distinct.set(`${l.qos} ${l.topic}`, { topic: l.topic, qos: l.qos })
  const tag = `${++barriers}-${Math.random().toString(36).slice(2, 8)}`
  const sentinels = [...distinct.values()].map((l, k) => ({ ...l, payload: `${PREFIX}${tag}:${k}` }))
  await send(sentinels)
  await Promise.all(
    subscribers.map((sub) => {
      const missing = new Set(sentinels.map((s) => s.payload))
      let scanned = 0
      return sub.waitUntil(
        (got) => {
          for (; scanned < got.length; scanned++) missing.delete(got[scanned]!.payload.toString())
          return missing.size === 0
        },
        timeoutMs,
        `all ${sentinels.length} sentinels`,
      )
    }),
  )
}

export const isSentinel = (m: { payload: Buffer }): boolean => m.payload.subarray(0, PREFIX.length).toString() === PREFIX

/** What arrived, less the barriers' sentinels. */
export const withoutSentinels = (messages: Received[]): Received[] => messages.filter((m) => !isSentinel(m))
