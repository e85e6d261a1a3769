// The smoke test's subscriber: a client of MQTT_URL with the bridge's own broker settings (URL, protocol,
// authentication, TLS), its client ID under MQTT_CLIENT_ID_PREFIX, subscribed to the one topic the smoke
// message must arrive on. A subscription the broker refuses is an error that says so.
import { randomBytes } from 'node:crypto'
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import type { BridgeConfig } from '../../../shared/config/bridge.js'
import { messageOf } from '../../../shared/errors.js'
import { registerSecret } from '../../../shared/logging/secrets.js'
import { credentialsFor } from '../../../shared/mqtt/auth.js'

export interface SmokeSubscriber {
  clientId: string
  version: 4 | 5
  grantedQos: number
  /** Resolves with the time it arrived when a message with exactly this payload comes on the topic; undefined at the timeout. */
  waitFor(payload: Buffer, timeoutMs: number): Promise<{ at: number; qos: number } | undefined>
  close(): Promise<void>
}

const REFUSED_VERSION = /protocol version|unsupported protocol/i

export async function subscribeForSmoke(config: BridgeConfig, topic: string, qos: 0 | 1 | 2): Promise<SmokeSubscriber> {
  const clientId = `${config.clientIdPrefix}@@@smoke${randomBytes(4).toString('hex')}`
  const credentials = credentialsFor(config.auth, clientId)
  registerSecret(credentials.password)
  const base: IClientOptions = {
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.min(config.publishTimeoutMs, 15_000),
    ...credentials,
    ...(config.tls.ca ? { ca: config.tls.ca } : {}),
    rejectUnauthorized: !config.tls.insecure,
  }
  let client: MqttClient
  let version: 4 | 5 = config.protocol === 4 ? 4 : 5
  try {
    client = await connectAsync(config.mqttUrl, { ...base, protocolVersion: version })
  } catch (err) {
    if (config.protocol !== 'auto' || !REFUSED_VERSION.test(messageOf(err))) throw err
    version = 4
    client = await connectAsync(config.mqttUrl, { ...base, protocolVersion: 4 })
  }
  client.on('error', () => {})
  const arrivals: Array<{ payload: Buffer; qos: number; at: number }> = []
  const waiters = new Set<() => void>()
  client.on('message', (t, payload, packet) => {
    if (t !== topic) return
    arrivals.push({ payload: Buffer.from(payload), qos: packet.qos, at: Date.now() })
    for (const w of waiters) w()
  })
  const granted = await client.subscribeAsync(topic, { qos })
  const grantedQos = granted[0]?.qos ?? 128
  if (grantedQos >= 128) {
    await client.endAsync()
    throw new Error(
      `the broker refused the subscription to ${topic} (reason ${grantedQos}): the MQTT credentials here need permission to subscribe`,
    )
  }
  return {
    clientId,
    version,
    grantedQos,
    waitFor(payload, timeoutMs) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = arrivals.find((a) => a.payload.equals(payload))
          if (!hit) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve({ at: hit.at, qos: hit.qos })
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          resolve(undefined)
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    close: () => client.endAsync(),
  }
}
