// The subscriber of `npm start`: a real MQTT.js client, standing in for the devices. It asks for MQTT 5
// (so the MQTT 5 properties show when the broker speaks it) and falls back to 3.1.1 when refused, as the
// bridge's MQTT_PROTOCOL_VERSION=auto does.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { messageOf } from '../../shared/errors.js'

export interface ReceivedMessage {
  topic: string
  qos: number
  retain: boolean
  payload: Buffer
  /** MQTT 5 only. */
  properties?: { userProperties?: Record<string, string | string[]>; messageExpiryInterval?: number; contentType?: string }
}

export interface LocalSubscriber {
  version: 4 | 5
  topics: string[]
  messages: ReceivedMessage[]
  /** Called for each message as it arrives (after the ones already in `messages`). */
  onMessage?: (m: ReceivedMessage) => void
  /** Resolves when `done(messages)` holds, or at `timeoutMs`, whichever comes first. */
  waitUntil(done: (messages: ReceivedMessage[]) => boolean, timeoutMs: number): Promise<boolean>
  close(): Promise<void>
}

/** MQTT.js's error when a broker refuses MQTT 5 (CONNACK "unacceptable protocol version"). */
const REFUSED_VERSION = /protocol version|unsupported protocol/i

export async function startSubscriber(url: string, topics: string[]): Promise<LocalSubscriber> {
  const base: IClientOptions = {
    clientId: `npm-start-subscriber-${Math.random().toString(36).slice(2, 10)}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  }
  let client: MqttClient
  let version: 4 | 5 = 5
  try {
    client = await connectAsync(url, { ...base, protocolVersion: 5 })
  } catch (err) {
    if (!REFUSED_VERSION.test(messageOf(err))) throw new Error(`the subscriber cannot reach the MQTT broker at ${url}: ${messageOf(err)}`)
    version = 4
    client = await connectAsync(url, { ...base, protocolVersion: 4 })
  }
  // A broker that goes away later is reported by the sample check; no unhandled 'error' event.
  client.on('error', () => {})
  const messages: ReceivedMessage[] = []
  const waiters = new Set<() => void>()
  const sub: LocalSubscriber = {
    version,
    topics,
    messages,
    waitUntil(done, timeoutMs) {
      return new Promise((resolve) => {
        const check = () => {
          if (!done(messages)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(true)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          resolve(done(messages))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    close: () => client.endAsync(true),
  }
  client.on('message', (topic, payload, packet) => {
    const p = packet.properties
    const properties =
      p && (p.userProperties || p.messageExpiryInterval !== undefined || p.contentType !== undefined)
        ? {
            ...(p.userProperties ? { userProperties: p.userProperties } : {}),
            ...(p.messageExpiryInterval !== undefined ? { messageExpiryInterval: p.messageExpiryInterval } : {}),
            ...(p.contentType !== undefined ? { contentType: p.contentType } : {}),
          }
        : undefined
    const m: ReceivedMessage = {
      topic,
      qos: packet.qos,
      retain: packet.retain,
      payload: Buffer.from(payload),
      ...(properties ? { properties } : {}),
    }
    messages.push(m)
    sub.onMessage?.(m)
    for (const w of [...waiters]) w()
  })
  // QoS 2 subscriptions: each message arrives at the QoS it was published with.
  await client.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 2 as const }])))
  return sub
}
