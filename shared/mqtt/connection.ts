// One pooled connection: opened on first use, reopened when it dropped or, after an idle spell, does not answer
// a PINGREQ; sends its share of a batch through a publish window and, when the connection is lost, reconnects
// and resends what was not confirmed one message at a time, until the evidence singles a message out or says
// the broker is in trouble (isolation.ts). Concurrent invocations on one
// instance take turns, so the in-flight bound holds.
import type { MqttClient } from 'mqtt'
import { MqttConnectionError, messageOf, ProtocolRefusedError } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { redact } from '../logging/secrets.js'
import type { Publish } from '../mapping/publish.js'
import type { ConnectionSettings } from './connection-settings.js'
import type { CodedError } from './failure-kind.js'
import { type BrokenGroups, groupBroken } from './group-order.js'
import { Isolation } from './isolation.js'
import { brokerTroubleReason, describeLoss, lossOf, poisonReason } from './loss.js'
import { KEEPALIVE_S, type Negotiated, negotiate } from './negotiate.js'
import { openClient, streamOf } from './open-client.js'
import { DELIVERED, type PassResult, type PublishOutcome, type PublishResult } from './outcome.js'
import { publishPacketBytes } from './packet-size.js'
import { ping } from './ping.js'
import { transmit } from './publish-window.js'
import { TokenBucket } from './token-bucket.js'
import type { FailedTopics } from './topic-order.js'
import { judgedNow } from './wide-refusals.js'

export type { Connect, ConnectionSettings } from './connection-settings.js'

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
  /** Sends taken and not yet ended: a send made while one is, waits its turn. */
  private sends = 0
  private readonly bucket: TokenBucket | undefined

  constructor(
    private readonly settings: ConnectionSettings,
    readonly clientId: string,
  ) {
    const rate = settings.rateLimit ?? 0
    this.bucket = rate > 0 ? new TokenBucket(rate) : undefined
    this.negotiated = {
      version: 4,
      window: settings.maxInFlight,
      packetLimit: settings.packetLimit,
      keepaliveMs: KEEPALIVE_S * 1000,
      maxQos: 2,
      retainAvailable: true,
    }
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
      if (await ping(client, clock, Math.min(publishTimeoutMs, deadline - clock.now()), this.pingsInFlight)) return
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

  private async open(version: 4 | 5, deadline: number, log: Logger): Promise<void> {
    const { settings } = this
    const { client, connack } = await openClient(settings, this.clientId, version, deadline)
    // A permanent listener: one between batches (a keepalive timeout while idle) is kept for the next
    // batch's log; during a batch, the pass reports it.
    client.on('error', (err: CodedError) => {
      if (!this.busy && this.client === client) this.idleError = describeLoss(lossOf(err))
    })
    this.client = client
    this.negotiated = negotiate(version, connack, settings)
    this.watch(client)
    settings.opened()
    log.info({
      event: 'mqtt.connected',
      clientId: this.clientId,
      url: settings.safeUrl,
      version: version === 5 ? '5' : '3.1.1',
      window: this.negotiated.window,
    })
  }

  /** Sends in batch order; `groups` (by item) with ordered rules: one in flight per message group. */
  send(items: Publish[], deadline: number, log: Logger, groups?: readonly (string | undefined)[]): Promise<PublishResult> {
    const queued = this.sends++ > 0
    const result = this.turn.then(async () => {
      // One that waited behind another invocation's may find its own deadline gone: then nothing is written.
      if (queued && this.settings.clock.now() >= deadline) return queuedPastDeadline(items.length)
      this.busy = true
      try {
        return await this.sendNow(items, deadline, log, groups)
      } finally {
        this.busy = false
      }
    })
    this.turn = result.catch(() => undefined).then(() => this.sends--)
    return result
  }

  /**
   * Sends in order. After a lost connection it reconnects and resends what was not confirmed, one message at
   * a time, so a message the broker will not take is told from a broker in trouble (isolation.ts).
   */
  private async sendNow(items: Publish[], deadline: number, log: Logger, groups?: readonly (string | undefined)[]): Promise<PublishResult> {
    const { clock, safeUrl } = this.settings
    const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
    // What each message keeps its order with: the probe of isolation is one that does not overtake its own.
    const plan = new Isolation(items.length, (i) => (groups?.[i] !== undefined ? `g${groups[i]}` : `t${items[i]!.qos}${items[i]!.topic}`))
    // Groups broken in one pass stay broken in the next (the resend after a lost connection).
    const ordered = groups ? { of: groups, broken: new Map() as BrokenGroups } : undefined
    // Topics whose message failed stay blocked in the next pass too (topic-order.ts).
    const failedTopics: FailedTopics = new Map()
    if (this.idleError !== undefined) {
      log.warn({ event: 'mqtt.client-error', clientId: this.clientId, url: safeUrl, error: redact(this.idleError), between: 'invocations' })
      this.idleError = undefined
    }
    const fail = (reason: string) => {
      for (const i of plan.remaining()) outcomes[i] = { kind: 'failed', reason }
    }
    // The broker's trouble, not a message's: what is left fails, and one line says why nothing was dead-lettered
    // (the invocation fails and Function Compute retries).
    const transient = (why: string, level: 'warn' | 'error' = 'warn') => {
      log[level]({
        event: 'mqtt.broker-trouble',
        clientId: this.clientId,
        url: safeUrl,
        verdict: 'transient',
        failed: plan.remaining().length,
        why,
      })
      fail(brokerTroubleReason(why, safeUrl))
    }
    const lost = `the connection to the MQTT broker at ${safeUrl} was lost before it acknowledged`
    let dropped = 0
    for (let attempt = 0; !plan.done; attempt++) {
      if (attempt > 0 && clock.now() >= deadline) {
        fail(`${lost}, and the invocation deadline came`)
        break
      }
      try {
        await this.ensure(deadline, log)
      } catch (err) {
        fail(redact(messageOf(err)))
        break
      }
      const pass = plan.next()
      if (pass.indices.length === 0) {
        // Cannot happen (isolation.ts keeps a pending verdict's probe at the head); were it to, a pass that writes
        // nothing would loop without yielding until the deadline. Fail what is left as transient instead.
        transient('poison isolation had nothing to send while messages were still undecided (a bug: please report it)', 'error')
        break
      }
      if (
        pass.alone &&
        !(await ping(this.client!, clock, Math.min(this.settings.publishTimeoutMs, deadline - clock.now()), this.pingsInFlight))
      ) {
        this.destroy()
        if (plan.unhealthy()) {
          fail(`${lost}, and the new one did not answer a PINGREQ`)
          break
        }
        continue
      }
      const r = await this.pass(items, pass.indices, outcomes, deadline, pass.alone ? 1 : this.negotiated.window, ordered, failedTopics)
      dropped += r.dropped
      this.report(r, log)
      // A connection that closed or stopped acknowledging is presumed dead: the next pass opens a new one.
      if (r.broken) this.destroy()
      const verdict = plan.record(pass, r)
      if (verdict.poison) {
        const { index, evidence } = verdict.poison
        const bytes = publishPacketBytes(items[index]!, this.negotiated.version === 5)
        // A DISCONNECT's code that names the packet goes with it: 0x87 on every message is no one message's
        // fault (wide-refusals.ts). A grouped message is judged now: its group goes on, or stops here.
        const code = evidence.kind === 'named' && evidence.loss.kind === 'closed' ? evidence.loss.disconnect?.code : undefined
        const refusal: PublishOutcome = {
          kind: 'refused',
          reason: redact(poisonReason(evidence, safeUrl, bytes)),
          ...(code !== undefined ? { code } : {}),
        }
        const group = groups?.[index]
        const outcome = group === undefined ? refusal : judgedNow(refusal, this.settings.acceptance)
        outcomes[index] = outcome
        if (group !== undefined && outcome.kind === 'failed') groupBroken(ordered!.broken, group, outcome.reason)
      }
      if (r.timedOut) {
        fail(r.timedOut)
        break
      }
      if (verdict.transient !== undefined) {
        transient(redact(verdict.transient))
        break
      }
    }
    return { outcomes, droppedV5Properties: dropped }
  }

  private pass(
    items: Publish[],
    indices: number[],
    outcomes: PublishOutcome[],
    deadline: number,
    window: number,
    groups: { of: readonly (string | undefined)[]; broken: BrokenGroups } | undefined,
    failedTopics: FailedTopics,
  ): Promise<PassResult> {
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
      maxQos: n.maxQos,
      retainAvailable: n.retainAvailable,
      pingsInFlight: this.pingsInFlight,
      groups,
      failedTopics,
      acceptance: this.settings.acceptance,
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

  /**
   * Ends the connection with DISCONNECT once the acknowledgements in flight are in (MQTT.js's end(false)), or,
   * at `deadline`, destroys the socket: a broker that stopped answering must not hold the preStop hook.
   */
  close(deadline: number): Promise<void> {
    const client = this.client
    this.client = undefined
    if (!client) return Promise.resolve()
    const { clock } = this.settings
    return new Promise((resolve) => {
      const timer = clock.setTimeout(
        () => {
          streamOf(client)?.destroy?.()
          resolve()
        },
        Math.max(0, deadline - clock.now()),
      )
      client.end(false, {}, () => {
        clock.clearTimeout(timer)
        resolve()
      })
    })
  }
}

function queuedPastDeadline(count: number): PublishResult {
  const reason =
    "not sent: the invocation deadline came before this connection was free (another invocation's messages were still going out on it)"
  return { outcomes: Array.from({ length: count }, () => ({ kind: 'failed', reason })), droppedV5Properties: 0 }
}
