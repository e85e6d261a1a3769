// A real MQTT client as the subscriber: what the devices would receive.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'

export interface Received {
  topic: string
  qos: number
  retain: boolean
  payload: Buffer
  userProperties?: Record<string, string | string[]>
  messageExpiryInterval?: number
  contentType?: string
}

export interface Subscriber {
  client: MqttClient
  messages: Received[]
  /** Resolves once `count` messages arrived; rejects after `timeoutMs` saying how many did. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>
  /** Resolves once `done(messages)` holds, checked now and on every arrival; rejects after `timeoutMs` naming `what`. */
  waitUntil(done: (messages: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<Received[]>
  close(): Promise<void>
}

export async function subscribe(url: string, topics: string[], version: 4 | 5, options: IClientOptions = {}): Promise<Subscriber> {
  const client = await connectAsync(url, {
    protocolVersion: version,
    clientId: `test-sub-${version}-${Math.random().toString(36).slice(2, 10)}`,
    reconnectPeriod: 0,
    ...options,
  })
  const messages: Received[] = []
  const waiters: Array<() => void> = []
  client.on('message', (topic, payload, packet) => {
    const p = packet.properties
    messages.push({
      topic,
      qos: packet.qos,
      retain: packet.retain,
      payload: Buffer.from(payload),
      ...(p?.userProperties ? { userProperties: p.userProperties } : {}),
      ...(p?.messageExpiryInterval !== undefined ? { messageExpiryInterval: p.messageExpiryInterval } : {}),
      ...(p?.contentType !== undefined ? { contentType: p.contentType } : {}),
    })
    for (const w of waiters) w()
  })
  await client.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 2 as const }])))
  const waitUntil = (done: (got: Received[]) => boolean, timeoutMs: number, what: () => string) =>
    new Promise<Received[]>((resolve, reject) => {
      const check = () => {
        if (done(messages)) {
          clearTimeout(timer)
          waiters.splice(waiters.indexOf(check), 1)
          resolve(messages)
        }
      }
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1)
        reject(new Error(`subscriber ${what()} within ${timeoutMs} ms`))
      }, timeoutMs)
      waiters.push(check)
      check()
    })
  return {
    client,
    messages,
    waitFor: (count, timeoutMs = 20000) =>
      waitUntil(
        (got) => got.length >= count,
        timeoutMs,
        () => `got ${messages.length} of ${count} messages`,
      ),
    waitUntil: (done, timeoutMs = 20000, what = 'the condition') => waitUntil(done, timeoutMs, () => `saw no ${what}`),
    close: () => client.endAsync(),
  }
}

export interface PersistentSubscriber {
  /** Distinct payloads received (hex), and how many arrived more than once. */
  distinct: Set<string>
  duplicates(): number
  waitForDistinct(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/**
 * A device that must not miss anything: MQTT 5, clean start false, a session that outlives broker
 * restarts, QoS 1, and automatic reconnection.
 */
export async function persistentSubscriber(url: string, topics: string[]): Promise<PersistentSubscriber> {
  const client = await connectAsync(url, {
    protocolVersion: 5,
    clientId: `test-persistent-${Math.random().toString(36).slice(2, 10)}`,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 100,
    connectTimeout: 2000,
  })
  client.on('error', () => {})
  const distinct = new Set<string>()
  let received = 0
  client.on('message', (_topic, payload) => {
    received++
    distinct.add(Buffer.from(payload).toString('hex'))
  })
  await client.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])))
  return {
    distinct,
    duplicates: () => received - distinct.size,
    async waitForDistinct(count, timeoutMs = 30000) {
      const until = Date.now() + timeoutMs
      while (distinct.size < count) {
        if (Date.now() > until)
          throw new Error(`persistent subscriber has ${distinct.size} of ${count} distinct messages after ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    close: () => client.endAsync(true),
  }
}
