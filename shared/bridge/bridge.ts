// The bridge's batch mechanics: parse -> plan -> publish through the pool -> one record per message ->
// summary. Results are data; one clear error is thrown at the end when the batch must be retried.
import { type BridgeConfig, loadConfig } from '../config/bridge.js'
import { createDeadLetterSink, type DeadLetterSink } from '../dead-letters/handoff/sink.js'
import type { DeadLetter } from '../dead-letters/record.js'
import { ConfigError, DeadLetterError, messageOf } from '../errors.js'
import type { ParsedEvent } from '../events/message.js'
import { type OpenedEvent, openEvent } from '../events/parse.js'
import { type FcContext, invocationDeadline } from '../fc/context.js'
import { type FleetBatch, FleetStore, invocationEnd } from '../fleet/store.js'
import { invocationLogger, type Logger } from '../logging/logger.js'
import type { Secrets } from '../logging/secrets.js'
import { isExpired } from '../mapping/deadline.js'
import type { Publish } from '../mapping/publish.js'
import { RuleIndex } from '../mapping/rule-index.js'
import { GROUP_ID } from '../mqtt/client-id.js'
import { DEFAULT_MAX_PACKET_BYTES } from '../mqtt/packet-size.js'
import { MqttPool } from '../mqtt/pool.js'
import { loadRuleSet, type RulesSource } from '../rules/load.js'
import type { RuleSet } from '../rules/schema.js'
import { DeliveredMemory } from './delivered-memory.js'
import { logInvocation } from './log-lines.js'
import { Planner, poisonRecord, slices } from './plan.js'
import { deadLettered, expired, indexOf, type MessageResult, type Planned, type ToPublish } from './records.js'
import { oldestTime, type Summary, summarize } from './summary.js'

export type { Summary } from './summary.js'

/**
 * Messages this instance delivered (rule, message ID and content), newest kept: five batches of the largest
 * size (10,000), so a retried batch is recognised, without growing forever.
 */
const DELIVERED_MEMORY = 50_000

export class Bridge {
  readonly pool: MqttPool
  private readonly index: RuleIndex
  private readonly sink: DeadLetterSink
  private readonly delivered = new DeliveredMemory(DELIVERED_MEMORY)
  /** With FLEET_REDIS_URL: duplicates suppressed and the rate limited across every instance (shared/fleet/). */
  readonly fleet: FleetStore | undefined
  private warned = false
  /**
   * Messages per second the pool is paced at, when a batch is planned in slices (plan.ts, slices): not with
   * ordered rules or the fleet store, which keep their bookkeeping over the whole batch.
   */
  private readonly paced: number

  constructor(
    readonly config: BridgeConfig,
    readonly ruleSet: RuleSet,
    sink?: DeadLetterSink,
    /** `ignoreDeadlines`: npm run replay --ignore-deadline only; a deployed bridge always checks them. */
    private readonly options: { ignoreDeadlines?: boolean } = {},
  ) {
    if (ruleSet.profile === 'alibaba' && !GROUP_ID.test(config.clientIdPrefix)) {
      throw new ConfigError([
        {
          path: 'MQTT_CLIENT_ID_PREFIX',
          message: "must be a Group ID (GID_ or GID- then letters, digits, '-' or '_', 7-64 characters) when the rules use profile alibaba",
        },
      ])
    }
    this.index = new RuleIndex(ruleSet)
    this.sink = sink ?? createDeadLetterSink(config.deadLetterTarget)
    this.pool = new MqttPool({
      url: config.mqttUrl,
      protocol: config.protocol,
      auth: config.auth,
      clientIdPrefix: config.clientIdPrefix,
      size: config.poolSize,
      publishTimeoutMs: config.publishTimeoutMs,
      maxInFlight: config.maxInFlight,
      // MQTT 3.1.1 brokers cannot announce a packet limit: MQTT_MAX_PACKET_SIZE, or the profile's default.
      maxPacketSize:
        config.maxPacketSize !== undefined
          ? { bytes: config.maxPacketSize, source: `MQTT_MAX_PACKET_SIZE=${config.maxPacketSize}` }
          : {
              bytes: DEFAULT_MAX_PACKET_BYTES[ruleSet.profile],
              source: `the default of MQTT_MAX_PACKET_SIZE for profile ${ruleSet.profile}`,
            },
      rateLimit: config.rateLimit,
      tls: config.tls,
    })
    this.fleet = config.fleet ? new FleetStore(config.fleet) : undefined
    const ordered = ruleSet.rules.some((r) => r.ordering === 'message-group')
    this.paced = ordered || this.fleet ? 0 : config.rateLimit * config.poolSize
  }

  /** Reads the environment and the rules; throws ConfigError or RulesError naming every problem. */
  static fromEnvironment(env: NodeJS.ProcessEnv, bundled: () => RulesSource): Bridge {
    const config = loadConfig(env)
    return new Bridge(config, loadRuleSet(config.rulesFile, bundled))
  }

  /** The `initialize` hook: opens the pool before the first invocation. */
  async initialize(context?: FcContext): Promise<void> {
    const { log } = invocationLogger(this.config.logLevel, context)
    this.warnOnce(log)
    const deadline = Math.min(invocationDeadline(Date.now(), context), Date.now() + this.config.publishTimeoutMs)
    await Promise.all([this.pool.warm(deadline, log), this.fleet?.warm(deadline, log)])
  }

  async handle(event: unknown, context: FcContext): Promise<Summary> {
    const startedAt = Date.now()
    const { log, secrets } = invocationLogger(this.config.logLevel, context)
    this.warnOnce(log)
    const requestId = context?.requestId ?? 'unknown'
    const opened = openEvent(event)
    const deadline = invocationDeadline(startedAt, context)
    const { parsed, results, sent, droppedV5Properties, settled } = await this.deliver(
      opened,
      startedAt,
      deadline,
      log,
      invocationEnd(startedAt, context),
    )
    const publishedAt = Date.now()

    // Expired messages are stored with the dead letters (failure "expired"), but counted only as expired.
    const deadLetters = results.flatMap((r) =>
      r.status === 'dead-letter' || (r.status === 'expired' && r.deadLetter) ? [r.deadLetter!] : [],
    )
    const handOffError = deadLetters.length > 0 ? await this.handOff(deadLetters, requestId, context, deadline, secrets) : undefined
    const { summary, decision } = summarize({
      requestId,
      received: parsed.received,
      results,
      startedAt,
      publishedAt,
      finishedAt: Date.now(),
      oldestTime: oldestTime(parsed),
      droppedV5Properties,
      sent,
      ...(handOffError ? { handOffError } : {}),
      redact: (text) => secrets.redact(text),
    })
    logInvocation(log, results, summary, decision, {
      requestId,
      shape: parsed.shape,
      target: this.sink.description,
      handedOff: !handOffError,
    })
    // The fleet store marks what was delivered complete while the results are recorded; done before returning.
    await settled
    if (decision.outcome !== 'ok') throw decision.error
    return summary
  }

  /**
   * Reads and plans the batch's entries and publishes what planning left to publish, except what this
   * instance delivered already (a retried batch); one result per entry, in batch order. A rate-limited
   * batch is read and planned in slices, each published while the next is read and planned, so its first
   * PUBLISH waits for one slice's work rather than the whole batch's (docs/performance.md, "The rate
   * limit"). Slices follow each other on the connections, so per-topic order holds; once one fails, the
   * later ones fail unsent, as the rest of one send does.
   */
  private async deliver(
    opened: OpenedEvent,
    startedAt: number,
    deadline: number,
    log: Logger,
    end: number,
  ): Promise<{ parsed: ParsedEvent; results: MessageResult[]; sent: number; droppedV5Properties: number; settled: Promise<void> }> {
    const parsed: ParsedEvent = { shape: opened.shape, received: opened.received, messages: [], poison: [] }
    const results: MessageResult[] = new Array(opened.received)
    const planner = new Planner(this.index, this.options.ignoreDeadlines ? null : startedAt)
    // With a fleet store, each message is claimed as it is planned (shared/fleet/deliver.ts).
    const fleet = this.fleet?.begin({ deadline, end, log, expected: opened.received, fingerprint: (p) => this.delivered.fingerprintOf(p) })
    const totals = { sent: 0, droppedV5Properties: 0, settled: Promise.resolve() }
    let failure: string | undefined
    let thrown: { err: unknown } | undefined
    let publishing: Promise<void> = Promise.resolve()
    const publish = (sends: ToPublish[]) => {
      totals.sent += sends.length
      publishing = publishing.then(async () => {
        if (failure !== undefined) {
          for (const s of sends) results[s.publish.index] = { status: 'failed', publish: s.publish, reason: failure }
          return
        }
        const published = await this.publish(sends, results, deadline, log, fleet)
        totals.droppedV5Properties += published.droppedV5Properties
        totals.settled = published.settled
        const failed = sends.map((s) => results[s.publish.index]!).find((r) => r.status === 'failed')
        if (failed) failure = `not sent: an earlier message of this batch failed (${failed.reason}); the batch is retried`
      })
      // Kept until every slice is through (an unexpected error would otherwise be unhandled for a turn).
      publishing = publishing.catch((err: unknown) => {
        thrown ??= { err }
        failure ??= `not sent: an earlier part of this batch failed (${messageOf(err)})`
      })
    }
    for (const [k, [from, to]] of slices(opened.received, this.paced).entries()) {
      // What is being published (its writes, acknowledgements and pacing) goes first.
      if (k > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      const { messages, poison } = opened.entries(from, to)
      for (const p of poison) {
        results[p.index] = poisonRecord(p)
        parsed.poison.push(p)
      }
      const sends: ToPublish[] = []
      for (const m of messages) {
        parsed.messages.push(m)
        const send = this.unsent(planner.plan(m), results)
        if (send) {
          sends.push(send)
          fleet?.add(send.publish, groupOf(send))
        }
      }
      if (sends.length > 0) publish(sends)
    }
    await publishing
    if (thrown) throw thrown.err
    return { parsed, results, ...totals }
  }

  /**
   * Records what is not to be published (planned so, delivered by this instance already, or expired);
   * returns what is.
   */
  private unsent(p: Planned, results: MessageResult[]): ToPublish | undefined {
    if (p.status !== 'publish') results[indexOf(p)] = p
    else if (this.delivered.has(p.publish)) {
      const { ruleId, index, messageId } = p.publish
      results[index] = { status: 'duplicate', index, ruleId, ...(messageId !== undefined ? { messageId } : {}), seen: 'by this instance' }
    } else if (p.expiry && isExpired(p.expiry.expiresAt, Date.now())) results[p.publish.index] = expired(p, p.expiry, Date.now())
    else return p
    return undefined
  }

  /**
   * Publishes `sends` (through the fleet store, when there is one) and records each one's result; returns the
   * MQTT 5 property sets dropped, and the fleet store's settling, still under way.
   */
  private async publish(
    sends: ToPublish[],
    results: MessageResult[],
    deadline: number,
    log: Logger,
    fleet: FleetBatch | undefined,
  ): Promise<{ droppedV5Properties: number; settled: Promise<void> }> {
    const groups = sends.some((s) => s.messageGroup !== undefined) ? sends.map(groupOf) : undefined
    const publish = (items: Publish[], g: (string | undefined)[] | undefined) => this.pool.publish(items, deadline, log, g)
    // With a fleet store, the sends were claimed as they were planned; only what this invocation claimed goes to the pool.
    const { outcomes, droppedV5Properties, settled } = fleet
      ? await fleet.finish(publish)
      : {
          ...(await publish(
            sends.map((s) => s.publish),
            groups,
          )),
          settled: Promise.resolve(),
        }
    outcomes.forEach((o, k) => {
      const send = sends[k]!
      const { publish } = send
      const at = publish.index
      const ids = publish.messageId !== undefined ? { messageId: publish.messageId } : {}
      if (o.kind === 'expired') results[at] = expired(send, send.expiry!, Date.now())
      else if (o.kind === 'duplicate')
        results[at] = { status: 'duplicate', index: at, ruleId: publish.ruleId, ...ids, seen: 'by the fleet' }
      else if (o.kind === 'delivered') {
        this.delivered.remember(publish)
        results[at] = { status: 'published', publish }
      } else if (o.kind === 'refused')
        results[at] = deadLettered({ index: at, reason: o.reason, ruleId: publish.ruleId, ...ids }, send.event)
      else results[at] = { status: 'failed', publish, reason: o.reason }
    })
    return { droppedV5Properties, settled }
  }

  /** Hands the dead letters to the target; a failure is returned, so the invocation fails and nothing is lost. */
  private async handOff(
    deadLetters: DeadLetter[],
    requestId: string,
    context: FcContext,
    deadline: number,
    secrets: Secrets,
  ): Promise<DeadLetterError | undefined> {
    try {
      await this.sink.send(
        { kind: 'rocketmq-mqtt-bridge.poison', requestId, failedAt: new Date().toISOString(), messages: deadLetters },
        { context, deadline, secrets },
      )
      return undefined
    } catch (err) {
      return err instanceof DeadLetterError ? err : new DeadLetterError(this.sink.description, deadLetters.length, err)
    }
  }

  /** Settings that work but betray a promise, said once per instance (its first invocation). */
  private warnOnce(log: Logger): void {
    if (this.warned) return
    this.warned = true
    if (this.config.tls.insecure) {
      log.warn({
        event: 'mqtt.tls-insecure',
        url: this.pool.safeUrl,
        note: "MQTT_TLS_INSECURE=true: the broker's certificate is not verified; anyone on the path can read and alter messages",
      })
    }
    const target = this.config.deadLetterTarget
    if (target.kind === 'file' && target.ephemeral) {
      log.warn({
        event: 'dead-letter.ephemeral-store',
        target: this.sink.description,
        note: 'DEAD_LETTER_TARGET is a file: directory on instance-local /tmp; dead letters are lost with the instance. Use fc:<dead-letter function> (the default) or a NAS mount',
      })
    }
  }

  /** Closes the pool with DISCONNECT; at `deadline` (epoch ms) connections still waiting for acknowledgements are cut. */
  async close(deadline?: number): Promise<void> {
    await Promise.all([this.pool.close(deadline), this.fleet?.close(deadline)])
  }
}

/** Ordered rules (docs/rules.md, "Ordered delivery per message group"): a group is a rule's sharding key. */
function groupOf(s: ToPublish): string | undefined {
  return s.messageGroup === undefined ? undefined : `${s.publish.ruleId}\u0000${s.messageGroup}`
}
