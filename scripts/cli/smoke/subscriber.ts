// The smoke test's subscriber: the one subscriber (scripts/mqtt/subscriber.ts) with the bridge's own broker
// settings (URL, protocol, authentication, TLS), its client ID under MQTT_CLIENT_ID_PREFIX, subscribed to the
// one topic the smoke message must arrive on. A subscription the broker refuses is an error that says so.
import type { BridgeConfig } from '../../../shared/config/bridge.js'
import { bridgeSettings, connectSubscriber } from '../../mqtt/subscriber.js'

export interface SmokeSubscriber {
  clientId: string
  version: 4 | 5
  grantedQos: number
  /** Resolves with the time it arrived when a message with exactly this payload comes on the topic; undefined at the timeout. */
  waitFor(payload: Buffer, timeoutMs: number): Promise<{ at: number; qos: number } | undefined>
  close(): Promise<void>
}

export async function subscribeForSmoke(config: BridgeConfig, topic: string, qos: 0 | 1 | 2): Promise<SmokeSubscriber> {
  const sub = await connectSubscriber({
    ...bridgeSettings(config, 'smoke'),
    topics: [topic],
    qos,
    mqtt: { connectTimeout: Math.min(config.publishTimeoutMs, 15_000) },
  })
  const find = (payload: Buffer) => sub.messages.find((m) => m.topic === topic && m.payload.equals(payload))
  return {
    clientId: sub.clientId,
    version: sub.version,
    grantedQos: sub.granted[0]!,
    async waitFor(payload, timeoutMs) {
      const hit = (await sub.waitUntil(() => find(payload) !== undefined, timeoutMs)) ? find(payload) : undefined
      return hit && { at: hit.at, qos: hit.qos }
    },
    close: () => sub.close(false),
  }
}
