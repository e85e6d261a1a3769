// A real MQTT client as the subscriber, what the devices would receive: the one subscriber
// (scripts/mqtt/subscriber.ts), with the messages flat and waits that reject, as the tests read them.
import type { IClientOptions, MqttClient } from 'mqtt'
import { type Received as Arrival, connectSubscriber } from '../../scripts/mqtt/subscriber.js'

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

const flat = (m: Arrival): Received => ({ topic: m.topic, qos: m.qos, retain: m.retain, payload: m.payload, ...m.properties })
const random = () => Math.random().toString(36).slice(2, 10)

export async function subscribe(url: string, topics: string[], version: 4 | 5, options: IClientOptions = {}): Promise<Subscriber> {
  const messages: Received[] = []
  const sub = await connectSubscriber({
    url,
    topics,
    protocol: version,
    clientId: `test-sub-${version}-${random()}`,
    keep: false,
    mqtt: options,
    onMessage: (m) => messages.push(flat(m)),
  })
  const waitUntil = async (done: (got: Received[]) => boolean, timeoutMs: number, what: () => string) => {
    if (!(await sub.waitUntil(() => done(messages), timeoutMs))) throw new Error(`subscriber ${what()} within ${timeoutMs} ms`)
    return messages
  }
  return {
    client: sub.client,
    messages,
    waitFor: (count, timeoutMs = 20000) =>
      waitUntil(
        (got) => got.length >= count,
        timeoutMs,
        () => `got ${messages.length} of ${count} messages`,
      ),
    waitUntil: (done, timeoutMs = 20000, what = 'the condition') => waitUntil(done, timeoutMs, () => `saw no ${what}`),
    close: () => sub.close(false),
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
  const distinct = new Set<string>()
  let received = 0
  const sub = await connectSubscriber({
    url,
    topics,
    qos: 1,
    protocol: 5,
    clientId: `test-persistent-${random()}`,
    reconnectMs: 100,
    keep: false,
    mqtt: { clean: false, properties: { sessionExpiryInterval: 3600 }, connectTimeout: 2000 },
    onMessage: (m) => {
      received++
      distinct.add(m.payload.toString('hex'))
    },
  })
  return {
    distinct,
    duplicates: () => received - distinct.size,
    async waitForDistinct(count, timeoutMs = 30000) {
      if (!(await sub.waitUntil(() => distinct.size >= count, timeoutMs)))
        throw new Error(`persistent subscriber has ${distinct.size} of ${count} distinct messages after ${timeoutMs} ms`)
    },
    close: () => sub.close(true),
  }
}
