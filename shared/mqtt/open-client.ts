// Opening one MQTT.js client for a pooled connection: its options (unique client ID, credentials, TLS trust,
// no automatic reconnect, a message ID allocator that never reuses an identifier still in flight) and the
// wait for CONNACK, bounded by MQTT_PUBLISH_TIMEOUT_MS and the invocation deadline, with a typed error.
import { type IClientOptions, type MqttClient, UniqueMessageIdProvider } from 'mqtt'
import { MqttConnectionError } from '../errors.js'
import { registerSecret } from '../logging/secrets.js'
import { credentialsFor } from './auth.js'
import type { ConnectionSettings } from './connection-settings.js'
import { closedBeforeConnack, connectError } from './failure-kind.js'
import { type ConnackProperties, KEEPALIVE_S } from './negotiate.js'

export interface Opened {
  client: MqttClient
  /** MQTT 5 only: the limits the broker announced. */
  connack: ConnackProperties
}

export function openClient(settings: ConnectionSettings, clientId: string, version: 4 | 5, deadline: number): Promise<Opened> {
  const { clock, safeUrl } = settings
  const remaining = deadline - clock.now()
  if (remaining <= 0) return Promise.reject(new MqttConnectionError(`no time left before the invocation deadline to connect to ${safeUrl}`))
  const timeout = Math.min(settings.publishTimeoutMs, remaining)
  const auto = settings.choice.requested === 'auto'
  const credentials = credentialsFor(settings.auth, clientId)
  registerSecret(credentials.password)
  const opts: IClientOptions = {
    protocolVersion: version,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    // Our own timer (below) fires first, with a message that names the broker and the bound.
    connectTimeout: timeout + 1000,
    keepalive: KEEPALIVE_S,
    resubscribe: false,
    // MQTT.js's default allocator counts up and wraps at 65535 without asking whether the identifier is still
    // in flight; a reused one would settle the wrong message (docs/reliability.md, "The window").
    messageIdProvider: new UniqueMessageIdProvider(),
    ...credentials,
    ...(settings.tls?.ca ? { ca: settings.tls.ca } : {}),
    rejectUnauthorized: settings.tls?.insecure !== true,
  }
  return new Promise((resolve, reject) => {
    const client = settings.connect(settings.url, opts)
    let settled = false
    const done = (err?: Error, connack?: ConnackProperties) => {
      if (settled) return
      settled = true
      clock.clearTimeout(timer)
      if (err) {
        client.end(true)
        return reject(err)
      }
      // MQTT.js leaves Nagle's algorithm on: small PUBLISH packets would wait for the previous ACK.
      streamOf(client)?.setNoDelay?.(true)
      resolve({ client, connack })
    }
    const timer = clock.setTimeout(
      () => done(new MqttConnectionError(`no CONNACK from the MQTT broker at ${safeUrl} within ${timeout} ms`)),
      timeout,
    )
    client.once('connect', (connack) => done(undefined, version === 5 ? connack.properties : undefined))
    // Stays attached for the client's life (done() is idempotent): an 'error' with no listener would crash the process.
    client.on('error', (err) => done(connectError(err, version, safeUrl)))
    client.once('close', () => done(closedBeforeConnack(version, auto, safeUrl)))
  })
}

/** The client's underlying socket (TCP, TLS or WebSocket stream); MQTT.js does not type it. */
export function streamOf(client: MqttClient): { setNoDelay?(noDelay: boolean): void; destroy?(): void } | undefined {
  return (client as unknown as { stream?: { setNoDelay?(noDelay: boolean): void; destroy?(): void } }).stream
}
