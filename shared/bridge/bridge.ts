// The bridge's batch mechanics: parse -> plan -> publish through the pool -> one record per message ->
// summary. Results are data; one clear error is thrown at the end when the batch must be retried.
import { type BridgeConfig, loadConfig } from '../config/bridge.js'
import { createDeadLetterSink, type DeadLetterSink } from '../dead-letters/handoff/sink.js'
import type { DeadLetter } from '../dead-letters/record.js'
import { ConfigError, DeadLetterError } from '../errors.js'
import { parseEvent } from '../events/parse.js'
import { type FcContext, invocationDeadline } from '../fc/context.js'
import { FleetStore, invocationEnd } from '../fleet/store.js'
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
import { planBatch } from './plan.js'
import { deadLettered, expired, type MessageResult, type Planned } from './records.js'
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
    const parsed = parseEvent(event)
    const planned = planBatch(parsed, this.index, this.options.ignoreDeadlines ? null : startedAt)
    const deadline = invocationDeadline(startedAt, context)
    const { results, sent, droppedV5Properties } = await this.deliver(planned, deadline, log, invocationEnd(startedAt, context))
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
    if (decision.outcome !== 'ok') throw decision.error
    return summary
  }

  /**
   * Publishes what planning left to publish, except what this instance delivered already (a retried
   * batch), and turns every planned record into its result.
   */
  private async deliver(
    planned: Planned[],
    deadline: number,
    log: Logger,
    end: number,
  ): Promise<{ results: MessageResult[]; sent: number; droppedV5Properties: number }> {
    const results: MessageResult[] = new Array(planned.length)
    const toSend: number[] = []
    const now = Date.now()
    planned.forEach((p, i) => {
      if (p.status !== 'publish') results[i] = p
      else if (this.delivered.has(p.publish)) {
        const { ruleId, index, messageId } = p.publish
        results[i] = { status: 'duplicate', index, ruleId, ...(messageId !== undefined ? { messageId } : {}), seen: 'by this instance' }
      } else if (p.expiry && isExpired(p.expiry.expiresAt, now)) results[i] = expired(p, p.expiry, now)
      else toSend.push(i)
    })
    if (toSend.length === 0) return { results, sent: 0, droppedV5Properties: 0 }

    const sends = toSend.map((i) => planned[i] as Extract<Planned, { status: 'publish' }>)
    // Ordered rules (docs/rules.md, "Ordered delivery per message group"): a group is a rule's sharding key.
    const groups = sends.some((s) => s.messageGroup !== undefined)
      ? sends.map((s) => (s.messageGroup === undefined ? undefined : `${s.publish.ruleId}\u0000${s.messageGroup}`))
      : undefined
    const publish = (items: Publish[], g: (string | undefined)[] | undefined) => this.pool.publish(items, deadline, log, g)
    // With a fleet store, claims come first and only what this invocation claimed goes to the pool (shared/fleet/).
    const { outcomes, droppedV5Properties } = this.fleet
      ? await this.fleet.deliver(
          sends.map((s, k) => ({ publish: s.publish, group: groups?.[k] })),
          publish,
          { deadline, end, log, fingerprint: (p) => this.delivered.fingerprintOf(p) },
        )
      : await publish(
          sends.map((s) => s.publish),
          groups,
        )
    outcomes.forEach((o, k) => {
      const { publish, event } = sends[k]!
      if (o.kind === 'expired') results[toSend[k]!] = expired(sends[k]!, sends[k]!.expiry!, Date.now())
      else if (o.kind === 'duplicate') {
        const ids = publish.messageId !== undefined ? { messageId: publish.messageId } : {}
        results[toSend[k]!] = { status: 'duplicate', index: publish.index, ruleId: publish.ruleId, ...ids, seen: 'by the fleet' }
      } else if (o.kind === 'delivered') {
        this.delivered.remember(publish)
        results[toSend[k]!] = { status: 'published', publish }
      } else if (o.kind === 'refused') {
        const ids = publish.messageId !== undefined ? { messageId: publish.messageId } : {}
        results[toSend[k]!] = deadLettered({ index: publish.index, reason: o.reason, ruleId: publish.ruleId, ...ids }, event)
      } else {
        results[toSend[k]!] = { status: 'failed', publish, reason: o.reason }
      }
    })
    return { results, sent: sends.length, droppedV5Properties }
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
