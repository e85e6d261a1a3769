// A pool of MQTT connections that lives in module scope and outlives invocations. A topic always goes
// to the same connection, which writes its messages in batch order with a bounded number in flight
// (MQTT.js stalls on a large mixed-QoS burst: docs/architecture.md, "Known traps"). A message counts as delivered
// only on PUBACK / PUBCOMP, or once written for QoS 0. Every wait is bounded by the acknowledgement
// timeout and by the invocation deadline.
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt'
import { MqttConnectionError, messageOf, ProtocolRefusedError } from '../errors.js'
import { redact, registerSecret } from '../logging/secrets.js'
import type { Publish } from '../mapping/map-message.js'
import { credentialsFor, type MqttAuth } from './auth.js'
import { clientId, instanceToken } from './client-id.js'
import { TokenBucket } from './token-bucket.js'

export interface PoolOptions {
  url: string
  protocol: 4 | 5 | 'auto'
  auth: MqttAuth
  clientIdPrefix: string
  size: number
  publishTimeoutMs: number
  /** Messages per second per connection; 0 = unlimited. */
  rateLimit?: number
  /** TLS trust for mqtts:// and wss://: a CA bundle, and whether to skip verification. */
  tls?: { ca?: Buffer; insecure?: boolean }
  /** Unique per instance; random by default so that concurrent instances never share a client ID. */
  instanceToken?: string
  onEvent?: (fields: { event: string } & Record<string, unknown>) => void
}

/** undefined = delivered. Otherwise why not: `rejected` means the broker refused this message (a dead letter); anything else is transient. */
export type Outcome = undefined | { rejected: boolean; reason: string }

export interface PublishResult {
  outcomes: Outcome[]
  /** MQTT 5 property sets left out because the connection speaks 3.1.1. */
  droppedV5Properties: number
}

/** At most this many publishes in flight per connection; lowered to the broker's receive maximum. */
const MAX_IN_FLIGHT = 20
const KEEPALIVE_S = 60
/** Function Compute freezes idle instances, so a connection idle longer than its keepalive is presumed dead. */
const IDLE_RECONNECT_MS = KEEPALIVE_S * 1000
/** PUBACK/PUBREC reason codes that say "try again later" rather than "never". */
const TRANSIENT_PUBLISH_CODES = new Set([0x80, 0x89, 0x97])
const PROTOCOL_REFUSED_CODES = new Set([1, 132])

/** Node's certificate verification failures. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/

/** FNV-1a: stable topic -> connection affinity, so per-topic order is kept. */
function topicHash(topic: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export class MqttPool {
  private readonly connections: Connection[]
  /** Decided once per pool when MQTT_PROTOCOL_VERSION=auto. */
  private version: 4 | 5 | undefined
  readonly safeUrl: string
  connectionsOpened = 0

  constructor(readonly options: PoolOptions) {
    const token = options.instanceToken ?? instanceToken()
    this.version = options.protocol === 'auto' ? undefined : options.protocol
    const url = new URL(options.url)
    this.safeUrl = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
    this.connections = Array.from({ length: options.size }, (_, i) => new Connection(this, clientId(options.clientIdPrefix, token, i)))
  }

  get clientIds(): string[] {
    return this.connections.map((c) => c.clientId)
  }

  /** The protocol version in use, once a connection has been made. */
  get protocolVersion(): 4 | 5 | undefined {
    return this.version
  }

  versionsToTry(): Array<4 | 5> {
    return this.version !== undefined ? [this.version] : [5, 4]
  }

  decide(version: 4 | 5): void {
    if (this.version === undefined && version === 4)
      this.options.onEvent?.({ event: 'mqtt.protocol-fallback', url: this.safeUrl, version: '3.1.1' })
    this.version = version
  }

  /** Opens every connection (for `initialize`). Failures are reported, not thrown: the invocation retries. */
  async warm(deadline: number): Promise<void> {
    await Promise.all(
      this.connections.map(async (c) => {
        try {
          await c.ensure(deadline)
        } catch (err) {
          this.options.onEvent?.({ event: 'mqtt.connect-failed', clientId: c.clientId, reason: redact(messageOf(err)) })
        }
      }),
    )
  }

  async publish(items: Publish[], deadline: number): Promise<PublishResult> {
    const outcomes: Outcome[] = new Array(items.length).fill(undefined)
    const shares: Publish[][] = this.connections.map(() => [])
    const positions: number[][] = this.connections.map(() => [])
    const n = this.connections.length
    items.forEach((p, i) => {
      const c = n === 1 ? 0 : topicHash(p.topic) % n
      shares[c]!.push(p)
      positions[c]!.push(i)
    })
    let dropped = 0
    await Promise.all(
      this.connections.map(async (conn, c) => {
        if (shares[c]!.length === 0) return
        const r = await conn.send(shares[c]!, deadline)
        dropped += r.droppedV5Properties
        r.outcomes.forEach((o, k) => {
          outcomes[positions[c]![k]!] = o
        })
      }),
    )
    return { outcomes, droppedV5Properties: dropped }
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()))
  }
}

class Connection {
  private client: MqttClient | undefined
  private window = MAX_IN_FLIGHT
  private lastUsed = 0
  private version: 4 | 5 = 4
  /** Concurrent invocations on one instance take turns, so the in-flight bound holds per connection. */
  private turn: Promise<unknown> = Promise.resolve()
  private readonly bucket: TokenBucket | undefined

  constructor(
    private readonly pool: MqttPool,
    readonly clientId: string,
  ) {
    const rate = pool.options.rateLimit ?? 0
    this.bucket = rate > 0 ? new TokenBucket(rate) : undefined
  }

  private usable(): boolean {
    return this.client?.connected === true && !this.client.disconnecting && Date.now() - this.lastUsed < IDLE_RECONNECT_MS
  }

  async ensure(deadline: number): Promise<void> {
    if (this.usable()) return
    this.destroy()
    let last: unknown
    for (const version of this.pool.versionsToTry()) {
      try {
        await this.open(version, deadline)
        this.pool.decide(version)
        return
      } catch (err) {
        last = err
        if (!(err instanceof ProtocolRefusedError)) throw err
      }
    }
    throw last instanceof ProtocolRefusedError
      ? new MqttConnectionError(`the MQTT broker at ${this.pool.safeUrl} refused both MQTT 5 and MQTT 3.1.1: ${last.message}`)
      : last
  }

  private open(version: 4 | 5, deadline: number): Promise<void> {
    const { options, safeUrl } = this.pool
    const remaining = deadline - Date.now()
    if (remaining <= 0)
      return Promise.reject(new MqttConnectionError(`no time left before the invocation deadline to connect to ${safeUrl}`))
    const timeout = Math.min(options.publishTimeoutMs, remaining)
    const auto = options.protocol === 'auto'
    const credentials = credentialsFor(options.auth, this.clientId)
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
      ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      rejectUnauthorized: options.tls?.insecure !== true,
    }
    return new Promise((resolve, reject) => {
      const client = connect(options.url, opts)
      // A permanent listener: an 'error' with no listener would crash the process.
      client.on('error', () => {})
      let settled = false
      const done = (err?: Error, receiveMaximum?: number) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) {
          client.end(true)
          return reject(err)
        }
        this.client = client
        this.version = version
        // MQTT.js leaves Nagle's algorithm on: small PUBLISH packets would wait for the previous ACK.
        streamOf(client)?.setNoDelay?.(true)
        this.window = Math.max(1, Math.min(MAX_IN_FLIGHT, receiveMaximum ?? MAX_IN_FLIGHT))
        this.lastUsed = Date.now()
        this.pool.connectionsOpened++
        this.pool.options.onEvent?.({
          event: 'mqtt.connected',
          clientId: this.clientId,
          url: safeUrl,
          version: version === 5 ? '5' : '3.1.1',
        })
        resolve()
      }
      const timer = setTimeout(
        () => done(new MqttConnectionError(`no CONNACK from the MQTT broker at ${safeUrl} within ${timeout} ms`)),
        timeout,
      )
      client.once('connect', (connack) => done(undefined, version === 5 ? connack.properties?.receiveMaximum : undefined))
      client.on('error', (err) => done(connectError(err, version, safeUrl)))
      client.once('close', () =>
        done(
          version === 5 && auto
            ? new ProtocolRefusedError(`the MQTT broker at ${safeUrl} closed the connection before CONNACK`)
            : new MqttConnectionError(`the MQTT broker at ${safeUrl} closed the connection before CONNACK`),
        ),
      )
    })
  }

  send(items: Publish[], deadline: number): Promise<PublishResult> {
    const result = this.turn.then(() => this.sendNow(items, deadline))
    this.turn = result.catch(() => undefined)
    return result
  }

  /** Sends in order; on a lost connection, reconnects once and resends what was not yet acknowledged. */
  private async sendNow(items: Publish[], deadline: number): Promise<PublishResult> {
    const outcomes: Outcome[] = new Array(items.length).fill(undefined)
    let pending = items.map((_, i) => i)
    let dropped = 0
    for (let attempt = 0; pending.length > 0; attempt++) {
      try {
        await this.ensure(deadline)
      } catch (err) {
        const reason = redact(messageOf(err))
        for (const i of pending) outcomes[i] = { rejected: false, reason }
        break
      }
      const r = await this.transmit(items, pending, outcomes, deadline)
      dropped += r.dropped
      pending = r.lost
      if (pending.length > 0 && (attempt >= 1 || Date.now() >= deadline)) {
        for (const i of pending)
          outcomes[i] = {
            rejected: false,
            reason: `the connection to the MQTT broker at ${this.pool.safeUrl} was lost before it acknowledged`,
          }
        break
      }
    }
    return { outcomes, droppedV5Properties: dropped }
  }

  /**
   * One pass over `indices` on the current connection. Resolves with the indices whose fate is unknown
   * because the connection closed; every other index gets its outcome.
   */
  private transmit(
    items: Publish[],
    indices: number[],
    outcomes: Outcome[],
    deadline: number,
  ): Promise<{ lost: number[]; dropped: number }> {
    const client = this.client!
    const v5 = this.version === 5
    const timeoutMs = this.pool.options.publishTimeoutMs
    const count = indices.length
    const sentAt = new Float64Array(count)
    const settled = new Uint8Array(count)
    let next = 0
    let inFlight = 0
    let done = 0
    let oldest = 0
    let dropped = 0
    let finished = false
    let pumping = false
    /** Set while the rate limit makes the next publish wait. */
    let paced: NodeJS.Timeout | undefined

    return new Promise((resolve) => {
      const finish = (failure?: { lost: true } | { reason: string }) => {
        if (finished) return
        finished = true
        clearInterval(watchdog)
        clearTimeout(paced)
        client.removeListener('close', onClose)
        this.lastUsed = Date.now()
        const lost: number[] = []
        if (failure) {
          for (let k = 0; k < count; k++) {
            if (settled[k]) continue
            if ('lost' in failure) lost.push(indices[k]!)
            else outcomes[indices[k]!] = { rejected: false, reason: failure.reason }
          }
        }
        resolve({ lost, dropped })
      }
      const onClose = () => {
        finish({ lost: true })
        this.destroy()
      }
      client.on('close', onClose)
      // One timer per batch, not per message: checks the oldest unacknowledged publish and the deadline.
      const watchdog = setInterval(
        () => {
          const now = Date.now()
          if (now >= deadline) {
            finish({
              reason: 'the invocation deadline (Function Compute timeout less a safety margin) was reached before the broker acknowledged',
            })
            return this.destroy()
          }
          while (oldest < next && settled[oldest]) oldest++
          if (oldest < next && now - sentAt[oldest]! > timeoutMs) {
            finish({
              reason: `no acknowledgement from the MQTT broker at ${this.pool.safeUrl} within MQTT_PUBLISH_TIMEOUT_MS=${timeoutMs} ms`,
            })
            this.destroy()
          }
        },
        Math.max(10, Math.min(250, timeoutMs / 4)),
      )

      const pump = () => {
        // QoS 0 callbacks can run synchronously inside publish(); the flag turns that recursion into this loop.
        if (pumping || paced) return
        pumping = true
        while (!finished && inFlight < this.window && next < count) {
          const wait = this.bucket?.take(Date.now()) ?? 0
          if (wait > 0) {
            paced = setTimeout(() => {
              paced = undefined
              pump()
            }, wait)
            break
          }
          const k = next++
          const p = items[indices[k]!]!
          const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain }
          if (p.properties) {
            if (v5) opts.properties = p.properties
            else dropped++
          }
          inFlight++
          sentAt[k] = Date.now()
          client.publish(p.topic, p.payload, opts, (err) => {
            if (finished || settled[k]) return
            settled[k] = 1
            inFlight--
            done++
            if (err) outcomes[indices[k]!] = publishError(err, this.pool.safeUrl)
            if (done === count) finish()
            else pump()
          })
        }
        pumping = false
      }
      if (count === 0) finish()
      else pump()
    })
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

function connectError(err: Error & { code?: number | string }, version: 4 | 5, url: string): MqttConnectionError {
  if (typeof err.code === 'number') {
    if (version === 5 && PROTOCOL_REFUSED_CODES.has(err.code))
      return new ProtocolRefusedError(`the MQTT broker at ${url} does not accept MQTT 5: ${err.message}`, err.code)
    return new MqttConnectionError(`the MQTT broker at ${url} refused the connection: ${err.message} (code ${err.code})`, err.code)
  }
  if (typeof err.code === 'string' && TLS_CODES.test(err.code)) {
    return new MqttConnectionError(
      `the TLS certificate of the MQTT broker at ${url} is not trusted: ${err.message} (${err.code}); set MQTT_CA_FILE to the CA that signed it`,
      err.code,
    )
  }
  if (typeof err.code === 'string') return new MqttConnectionError(`cannot reach the MQTT broker at ${url}: ${err.code}`, err.code)
  return new MqttConnectionError(`MQTT connection to ${url} failed: ${err.message}`)
}

function publishError(err: Error & { code?: number | string }, url: string): Outcome {
  const code = typeof err.code === 'number' ? err.code : undefined
  const reason = `the MQTT broker at ${url} rejected the publish: ${err.message}${code !== undefined ? ` (reason code 0x${code.toString(16)})` : ''}`
  return { rejected: code !== undefined && code >= 0x80 && !TRANSIENT_PUBLISH_CODES.has(code), reason }
}
