// The one MQTT subscriber (a real MQTT.js client), standing in for the devices in `npm start`, `npm run smoke`,
// the benchmark and the tests. It can authenticate as the bridge does (bridgeSettings), fails when the broker
// refuses a subscription, and says when it loses its broker and when it has it back.
import { randomBytes } from 'node:crypto'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import type { BridgeConfig } from '../../shared/config/bridge.js'
import { messageOf } from '../../shared/errors.js'
import { registerSecret } from '../../shared/logging/secrets.js'
import { credentialsFor, type MqttAuth } from '../../shared/mqtt/auth.js'

export interface Received {
  topic: string
  qos: number
  retain: boolean
  payload: Buffer
  /** Date.now() when it arrived. */
  at: number
  properties?: { userProperties?: Record<string, string | string[]>; messageExpiryInterval?: number; contentType?: string }
}

export interface SubscriberOptions {
  url: string
  topics: string[]
  /** Default 2: each message arrives at the QoS it was published with. */
  qos?: 0 | 1 | 2
  /** Default `auto` (5, then 3.1.1 when the broker refuses 5), as MQTT_PROTOCOL_VERSION. */
  protocol?: 4 | 5 | 'auto'
  auth?: MqttAuth
  tls?: { ca?: Buffer; insecure: boolean }
  clientId?: string
  /** Milliseconds between attempts to reconnect (and subscribe again) after a loss; 0 (the default): final. */
  reconnectMs?: number
  /** Keep every message in `messages` (default true; the benchmark counts millions and keeps none). */
  keep?: boolean
  /** Any other MQTT.js option (a session: `clean: false`), applied last. */
  mqtt?: IClientOptions
  onMessage?: (m: Received) => void
}

export type ConnectionEvent = { kind: 'lost'; reason: string } | { kind: 'regained' }

export interface Subscriber {
  client: MqttClient
  clientId: string
  version: 4 | 5
  topics: string[]
  /** The QoS the broker granted each topic filter, in order. */
  granted: number[]
  messages: Received[]
  /** Called for each message as it arrives, before the waiters look. */
  onMessage?: (m: Received) => void
  onConnection?: (e: ConnectionEvent) => void
  /** Resolves true once `done(messages)` holds (checked now, on every arrival, loss and return), or false at `timeoutMs`. */
  waitUntil(done: (messages: Received[]) => boolean, timeoutMs: number): Promise<boolean>
  close(force?: boolean): Promise<void>
}

/** MQTT.js's error when a broker refuses MQTT 5 (CONNACK "unacceptable protocol version"). */
const REFUSED_VERSION = /protocol version|unsupported protocol/i

/** The bridge's own broker settings from its configuration, with a client ID of its form: `<prefix>@@@<what><random>`. */
export function bridgeSettings(config: BridgeConfig, what: string): Omit<SubscriberOptions, 'topics'> {
  return {
    url: config.mqttUrl,
    protocol: config.protocol,
    auth: config.auth,
    tls: config.tls,
    clientId: `${config.clientIdPrefix}@@@${what}${randomBytes(4).toString('hex')}`,
  }
}

export async function connectSubscriber(o: SubscriberOptions): Promise<Subscriber> {
  const clientId = o.clientId ?? `subscriber-${randomBytes(4).toString('hex')}`
  const credentials = credentialsFor(o.auth ?? { kind: 'none' }, clientId)
  registerSecret(credentials.password)
  const base: IClientOptions = {
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...credentials,
    ...(o.tls?.ca ? { ca: o.tls.ca } : {}),
    ...(o.tls ? { rejectUnauthorized: !o.tls.insecure } : {}),
    ...o.mqtt,
  }
  let version: 4 | 5 = o.protocol === 4 ? 4 : 5
  let client: MqttClient
  try {
    client = await connectAsync(o.url, { ...base, protocolVersion: version })
  } catch (err) {
    if ((o.protocol ?? 'auto') !== 'auto' || !REFUSED_VERSION.test(messageOf(err))) throw err
    version = 4
    client = await connectAsync(o.url, { ...base, protocolVersion: 4 })
  }
  const messages: Received[] = []
  const waiters = new Set<() => void>()
  let closing = false
  let lost = false
  let lastError: string | undefined
  let sub: Subscriber | undefined
  // Reconnect only after the first connection: a broker that is not there at the start is an error at once.
  client.options.reconnectPeriod = o.reconnectMs ?? 0
  client.on('error', (err) => {
    lastError = messageOf(err)
  })
  const wake = () => {
    for (const w of [...waiters]) w()
  }
  client.on('close', () => {
    if (closing || lost) return
    lost = true
    sub?.onConnection?.({ kind: 'lost', reason: lastError ?? 'the connection closed' })
    wake()
  })
  client.on('connect', () => {
    if (!lost) return
    lost = false
    lastError = undefined
    sub?.onConnection?.({ kind: 'regained' })
    wake()
  })
  const keep = o.keep ?? true
  client.on('message', (topic, payload, packet) => {
    const { userProperties, messageExpiryInterval, contentType } = packet.properties ?? {}
    const properties = Object.entries({ userProperties, messageExpiryInterval, contentType }).filter(([, v]) => v !== undefined)
    const m: Received = { topic, qos: packet.qos, retain: packet.retain, payload, at: Date.now() }
    if (properties.length > 0) m.properties = Object.fromEntries(properties)
    if (keep) messages.push(m)
    ;(sub ? sub.onMessage : o.onMessage)?.(m)
    wake()
  })
  const granted = await client.subscribeAsync(Object.fromEntries(o.topics.map((t) => [t, { qos: o.qos ?? 2 }])))
  const refused = granted.find((g) => g.qos >= 128)
  if (refused) {
    await client.endAsync(true)
    throw new Error(
      `the broker refused the subscription to ${refused.topic} (reason ${refused.qos}): these MQTT credentials need permission to subscribe`,
    )
  }
  sub = {
    client,
    clientId,
    version,
    topics: o.topics,
    granted: granted.map((g) => g.qos),
    messages,
    ...(o.onMessage ? { onMessage: o.onMessage } : {}),
    waitUntil: (done, timeoutMs) =>
      new Promise((resolve) => {
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
      }),
    close(force = true) {
      closing = true
      return client.endAsync(force)
    },
  }
  return sub
}
