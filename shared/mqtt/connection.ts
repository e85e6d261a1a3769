// One pooled connection: opened on first use and reopened when it dropped or sat idle; sends its share of a
// batch through a publish window and, when the connection is lost, reconnects once and resends what was not
// yet acknowledged. Concurrent invocations on one instance take turns, so the in-flight bound holds.
import type { IClientOptions, MqttClient } from 'mqtt'
import { MqttConnectionError, messageOf, ProtocolRefusedError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { redact, registerSecret } from '../logging/secrets.js'
import type { Publish } from '../mapping/publish.js'
import { credentialsFor, type MqttAuth } from './auth.js'
import { closedBeforeConnack, connectError } from './classify.js'
import type { Clock } from './clock.js'
import { DELIVERED, type PublishOutcome, type PublishResult } from './outcome.js'
import { MAX_IN_FLIGHT, transmit } from './publish-window.js'
import { TokenBucket } from './token-bucket.js'

export type Connect = (url: string, opts: IClientOptions) => MqttClient

export const KEEPALIVE_S = 60
/** Function Compute freezes idle instances, so a connection idle longer than its keepalive is presumed dead. */
export const IDLE_RECONNECT_MS = KEEPALIVE_S * 1000

/** MQTT_PROTOCOL_VERSION=auto is decided once per pool, by the first connection that opens. */
export class ProtocolChoice {
  private decided: 4 | 5 | undefined

  constructor(
    readonly requested: 4 | 5 | 'auto',
    private readonly safeUrl: string,
  ) {
    this.decided = requested === 'auto' ? undefined : requested
  }

  get version(): 4 | 5 | undefined {
    return this.decided
  }

  toTry(): Array<4 | 5> {
    return this.decided !== undefined ? [this.decided] : [5, 4]
  }

  decide(version: 4 | 5, log: Logger): void {
    if (this.decided === undefined && version === 4) log.info({ event: 'mqtt.protocol-fallback', url: this.safeUrl, version: '3.1.1' })
    this.decided = version
  }
}

/** What every connection of a pool shares. */
export interface ConnectionSettings {
  url: string
  /** The URL without credentials, for messages and logs. */
  safeUrl: string
  auth: MqttAuth
  publishTimeoutMs: number
  /** Messages per second per connection; 0 = unlimited. */
  rateLimit?: number | undefined
  tls?: { ca?: Buffer; insecure?: boolean } | undefined
  choice: ProtocolChoice
  connect: Connect
  clock: Clock
  /** Called each time a connection opens (the pool counts them). */
  opened: () => void
}

export class Connection {
  private client: MqttClient | undefined
  private window = MAX_IN_FLIGHT
  private lastUsed = 0
  private version: 4 | 5 = 4
  /** Concurrent invocations on one instance take turns, so the in-flight bound holds per connection. */
  private turn: Promise<unknown> = Promise.resolve()
  private readonly bucket: TokenBucket | undefined

  constructor(
    private readonly settings: ConnectionSettings,
    readonly clientId: string,
  ) {
    const rate = settings.rateLimit ?? 0
    this.bucket = rate > 0 ? new TokenBucket(rate) : undefined
  }

  private usable(): boolean {
    const client = this.client
    return client?.connected === true && !client.disconnecting && this.settings.clock.now() - this.lastUsed < IDLE_RECONNECT_MS
  }

  /** Opens the connection unless it is usable as it is; throws MqttConnectionError. */
  async ensure(deadline: number, log: Logger): Promise<void> {
    if (this.usable()) return
    this.destroy()
    const { choice, safeUrl } = this.settings
    let last: unknown
    for (const version of choice.toTry()) {
      try {
        await this.open(version, deadline, log)
        choice.decide(version, log)
        return
      } catch (err) {
        last = err
        if (!(err instanceof ProtocolRefusedError)) throw err
      }
    }
    throw last instanceof ProtocolRefusedError
      ? new MqttConnectionError(`the MQTT broker at ${safeUrl} refused both MQTT 5 and MQTT 3.1.1: ${last.message}`)
      : last
  }

  private open(version: 4 | 5, deadline: number, log: Logger): Promise<void> {
    const { settings } = this
    const { clock, safeUrl } = settings
    const remaining = deadline - clock.now()
    if (remaining <= 0)
      return Promise.reject(new MqttConnectionError(`no time left before the invocation deadline to connect to ${safeUrl}`))
    const timeout = Math.min(settings.publishTimeoutMs, remaining)
    const auto = settings.choice.requested === 'auto'
    const credentials = credentialsFor(settings.auth, this.clientId)
    registerSecret(credentials.password)
    const opts: IClientOptions = {
      protocolVersion: version,
      clientId: this.clientId,
      clean: true,
      reconnectPeriod: 0,
      // Our own timer (below) fires first, with a message that names the broker and the bound.
      connectTimeout: timeout + 1000,
      keepalive: KEEPALIVE_S,
      resubscribe: false,
      ...credentials,
      ...(settings.tls?.ca ? { ca: settings.tls.ca } : {}),
      rejectUnauthorized: settings.tls?.insecure !== true,
    }
    return new Promise((resolve, reject) => {
      const client = settings.connect(settings.url, opts)
      // A permanent listener: an 'error' with no listener would crash the process.
      client.on('error', () => {})
      let settled = false
      const done = (err?: Error, receiveMaximum?: number) => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        if (err) {
          client.end(true)
          return reject(err)
        }
        this.client = client
        this.version = version
        // MQTT.js leaves Nagle's algorithm on: small PUBLISH packets would wait for the previous ACK.
        streamOf(client)?.setNoDelay?.(true)
        this.window = Math.max(1, Math.min(MAX_IN_FLIGHT, receiveMaximum ?? MAX_IN_FLIGHT))
        this.lastUsed = clock.now()
        settings.opened()
        log.info({ event: 'mqtt.connected', clientId: this.clientId, url: safeUrl, version: version === 5 ? '5' : '3.1.1' })
        resolve()
      }
      const timer = clock.setTimeout(
        () => done(new MqttConnectionError(`no CONNACK from the MQTT broker at ${safeUrl} within ${timeout} ms`)),
        timeout,
      )
      client.once('connect', (connack) => done(undefined, version === 5 ? connack.properties?.receiveMaximum : undefined))
      client.on('error', (err) => done(connectError(err, version, safeUrl)))
      client.once('close', () => done(closedBeforeConnack(version, auto, safeUrl)))
    })
  }

  send(items: Publish[], deadline: number, log: Logger): Promise<PublishResult> {
    const result = this.turn.then(() => this.sendNow(items, deadline, log))
    this.turn = result.catch(() => undefined)
    return result
  }

  /** Sends in order; on a lost connection, reconnects once and resends what was not yet acknowledged. */
  private async sendNow(items: Publish[], deadline: number, log: Logger): Promise<PublishResult> {
    const { clock, safeUrl, publishTimeoutMs } = this.settings
    const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
    let pending = items.map((_, i) => i)
    let dropped = 0
    for (let attempt = 0; pending.length > 0; attempt++) {
      try {
        await this.ensure(deadline, log)
      } catch (err) {
        const reason = redact(messageOf(err))
        for (const i of pending) outcomes[i] = { kind: 'failed', reason }
        break
      }
      const window = { clock, safeUrl, publishTimeoutMs, maxInFlight: this.window, v5: this.version === 5, bucket: this.bucket }
      const r = await transmit(this.client!, items, pending, outcomes, deadline, window)
      this.lastUsed = clock.now()
      // A connection that closed or stopped acknowledging is presumed dead: the next pass opens a new one.
      if (r.broken) this.destroy()
      dropped += r.dropped
      pending = r.lost
      if (pending.length > 0 && (attempt >= 1 || clock.now() >= deadline)) {
        const reason = `the connection to the MQTT broker at ${safeUrl} was lost before it acknowledged`
        for (const i of pending) outcomes[i] = { kind: 'failed', reason }
        break
      }
    }
    return { outcomes, droppedV5Properties: dropped }
  }

  private destroy(): void {
    const client = this.client
    this.client = undefined
    client?.end(true)
  }

  close(): Promise<void> {
    const client = this.client
    this.client = undefined
    if (!client) return Promise.resolve()
    return new Promise((resolve) => client.end(false, {}, () => resolve()))
  }
}

/** The client's underlying socket (TCP, TLS or WebSocket stream); MQTT.js does not type it. */
function streamOf(client: MqttClient): { setNoDelay?(noDelay: boolean): void } | undefined {
  return (client as unknown as { stream?: { setNoDelay?(noDelay: boolean): void } }).stream
}
