// One pooled connection: opened on first use, reopened when it dropped or, after an idle spell, does not answer
// a PINGREQ; sends its share of a batch through a publish window and, when the connection is lost, reconnects
// and resends what was not confirmed one message at a time (isolation.ts). Concurrent invocations on one
// instance take turns, so the in-flight bound holds.
import type { IClientOptions, MqttClient } from 'mqtt'
import { MqttConnectionError, messageOf, ProtocolRefusedError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { redact, registerSecret } from '../logging/secrets.js'
import type { Publish } from '../mapping/publish.js'
import { credentialsFor, type MqttAuth } from './auth.js'
import { type CodedError, closedBeforeConnack, connectError, describeLoss, lossOf, type PacketLimit, poisonReason } from './classify.js'
import type { Clock } from './clock.js'
import { Isolation } from './isolation.js'
import { type ConnackProperties, KEEPALIVE_S, type Negotiated, negotiate } from './negotiate.js'
import { DELIVERED, type PassResult, type PublishOutcome, type PublishResult } from './outcome.js'
import { publishPacketBytes } from './packet-size.js'
import { ping } from './ping.js'
import type { ProtocolChoice } from './protocol-choice.js'
import { transmit } from './publish-window.js'
import { TokenBucket } from './token-bucket.js'

export type Connect = (url: string, opts: IClientOptions) => MqttClient

/** What every connection of a pool shares. */
export interface ConnectionSettings {
  url: string
  /** The URL without credentials, for messages and logs. */
  safeUrl: string
  auth: MqttAuth
  publishTimeoutMs: number
  /** MQTT_MAX_IN_FLIGHT; on MQTT 5 lowered to the broker's receive maximum. */
  maxInFlight: number
  /** MQTT_MAX_PACKET_SIZE (or its default); on MQTT 5 lowered to the broker's maximum packet size. */
  packetLimit: PacketLimit
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
  private negotiated: Negotiated
  /** When the broker was last heard from (any packet): the idle time that may have killed the connection. */
  private lastHeard = 0
  /** PINGREQs written and not yet answered, whoever wrote them (MQTT.js's keepalive or the bridge). */
  private pingsInFlight = 0
  private warnedDowngrade = false
  /** A batch is being sent: MQTT.js errors go to its pass. Between batches they are kept for the next one's log. */
  private busy = false
  private idleError: string | undefined
  /** Concurrent invocations on one instance take turns, so the in-flight bound holds per connection. */
  private turn: Promise<unknown> = Promise.resolve()
  private readonly bucket: TokenBucket | undefined

  constructor(
    private readonly settings: ConnectionSettings,
    readonly clientId: string,
  ) {
    const rate = settings.rateLimit ?? 0
    this.bucket = rate > 0 ? new TokenBucket(rate) : undefined
    this.negotiated = { version: 4, window: settings.maxInFlight, packetLimit: settings.packetLimit, keepaliveMs: KEEPALIVE_S * 1000 }
  }

  /**
   * Opens the connection unless it is usable as it is; throws MqttConnectionError. One that sat idle for its
   * keepalive or longer may be dead without knowing it (a frozen instance sends no PINGREQ): it must answer
   * one before anything, a QoS 0 message above all, is written to it, or it is reopened.
   */
  async ensure(deadline: number, log: Logger): Promise<void> {
    const client = this.client
    if (client?.connected === true && !client.disconnecting) {
      const { clock, publishTimeoutMs } = this.settings
      const idleMs = clock.now() - this.lastHeard
      if (idleMs < this.negotiated.keepaliveMs) return
      if (await ping(client, clock, Math.min(publishTimeoutMs, deadline - clock.now()))) return
      log.info({ event: 'mqtt.idle-reopen', clientId: this.clientId, idleMs, keepaliveS: this.negotiated.keepaliveMs / 1000 })
    }
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
      // A permanent listener: an 'error' with no listener would crash the process. One between batches (a
      // keepalive timeout while idle) is kept for the next batch's log; during a batch, the pass reports it.
      client.on('error', (err: CodedError) => {
        if (!this.busy && this.client === client) this.idleError = describeLoss(lossOf(err))
      })
      let settled = false
      const done = (err?: Error, connack?: ConnackProperties) => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        if (err) {
          client.end(true)
          return reject(err)
        }
        this.client = client
        this.negotiated = negotiate(version, connack, settings)
        this.watch(client)
        // MQTT.js leaves Nagle's algorithm on: small PUBLISH packets would wait for the previous ACK.
        streamOf(client)?.setNoDelay?.(true)
        settings.opened()
        log.info({ event: 'mqtt.connected', clientId: this.clientId, url: safeUrl, version: version === 5 ? '5' : '3.1.1' })
        resolve()
      }
      const timer = clock.setTimeout(
        () => done(new MqttConnectionError(`no CONNACK from the MQTT broker at ${safeUrl} within ${timeout} ms`)),
        timeout,
      )
      client.once('connect', (connack) => done(undefined, version === 5 ? connack.properties : undefined))
      client.on('error', (err) => done(connectError(err, version, safeUrl)))
      client.once('close', () => done(closedBeforeConnack(version, auto, safeUrl)))
    })
  }

  send(items: Publish[], deadline: number, log: Logger): Promise<PublishResult> {
    const result = this.turn.then(async () => {
      this.busy = true
      try {
        return await this.sendNow(items, deadline, log)
      } finally {
        this.busy = false
      }
    })
    this.turn = result.catch(() => undefined)
    return result
  }

  /**
   * Sends in order. After a lost connection it reconnects and resends what was not confirmed, one message at
   * a time, so a message the broker will not take is told from a broker that is down (isolation.ts).
   */
  private async sendNow(items: Publish[], deadline: number, log: Logger): Promise<PublishResult> {
    const { clock, safeUrl } = this.settings
    const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
    const plan = new Isolation(items.length)
    if (this.idleError !== undefined) {
      log.warn({ event: 'mqtt.client-error', clientId: this.clientId, url: safeUrl, error: redact(this.idleError), between: 'invocations' })
      this.idleError = undefined
    }
    const fail = (reason: string) => {
      for (const i of plan.remaining()) outcomes[i] = { kind: 'failed', reason }
    }
    let dropped = 0
    for (let attempt = 0; !plan.done; attempt++) {
      if (attempt > 0 && clock.now() >= deadline) {
        fail(`the connection to the MQTT broker at ${safeUrl} was lost before it acknowledged, and the invocation deadline came`)
        break
      }
      try {
        await this.ensure(deadline, log)
      } catch (err) {
        fail(redact(messageOf(err)))
        break
      }
      const pass = plan.next()
      if (pass.alone && !(await ping(this.client!, clock, Math.min(this.settings.publishTimeoutMs, deadline - clock.now())))) {
        this.destroy()
        if (plan.unhealthy()) {
          fail(`the connection to the MQTT broker at ${safeUrl} was lost before it acknowledged, and the new one did not answer a PINGREQ`)
          break
        }
        continue
      }
      const r = await this.pass(items, pass.indices, outcomes, deadline, pass.alone ? 1 : this.negotiated.window)
      dropped += r.dropped
      this.report(r, log)
      // A connection that closed or stopped acknowledging is presumed dead: the next pass opens a new one.
      if (r.broken) this.destroy()
      const found = plan.record(pass, r)
      if (r.timedOut) {
        fail(r.timedOut)
        break
      }
      if (found === 'give up') {
        fail(`the connection to the MQTT broker at ${safeUrl} was lost before it acknowledged (${describeLoss(r.loss!)})`)
        break
      }
      if (found) {
        const bytes = publishPacketBytes(items[found.poison]!, this.negotiated.version === 5)
        outcomes[found.poison] = { kind: 'refused', reason: redact(poisonReason(found.losses, safeUrl, bytes)) }
      }
    }
    return { outcomes, droppedV5Properties: dropped }
  }

  private pass(items: Publish[], indices: number[], outcomes: PublishOutcome[], deadline: number, window: number): Promise<PassResult> {
    const { clock, safeUrl, publishTimeoutMs } = this.settings
    const n = this.negotiated
    return transmit(this.client!, items, indices, outcomes, deadline, {
      clock,
      safeUrl,
      publishTimeoutMs,
      maxInFlight: window,
      v5: n.version === 5,
      bucket: this.bucket,
      packetLimit: n.packetLimit,
      pingsInFlight: this.pingsInFlight,
    })
  }

  /** What a pass learnt that operators must see: an MQTT.js error (never swallowed), a broker without QoS 2. */
  private report(r: PassResult, log: Logger): void {
    if (r.loss?.kind === 'error' || (r.loss?.kind === 'closed' && r.loss.socketError))
      log.warn({ event: 'mqtt.client-error', clientId: this.clientId, url: this.settings.safeUrl, error: redact(describeLoss(r.loss)) })
    if (r.downgraded > 0 && !this.warnedDowngrade) {
      this.warnedDowngrade = true
      log.warn({
        event: 'mqtt.qos2-downgraded',
        clientId: this.clientId,
        url: this.settings.safeUrl,
        note: 'the broker answers QoS 2 publishes with PUBACK: it delivers them at QoS 1, at least once (RabbitMQ does)',
      })
    }
  }

  /** Listeners for the client's whole life: when the broker was last heard from, and the PINGREQs in flight. */
  private watch(client: MqttClient): void {
    this.lastHeard = this.settings.clock.now()
    this.pingsInFlight = 0
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'pingreq' && this.client === client) this.pingsInFlight++
    })
    client.on('packetreceive', (packet) => {
      if (this.client !== client) return
      this.lastHeard = this.settings.clock.now()
      if (packet.cmd === 'pingresp') this.pingsInFlight = Math.max(0, this.pingsInFlight - 1)
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
