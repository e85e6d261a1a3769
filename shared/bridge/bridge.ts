// The bridge's batch mechanics: parse -> map -> publish through the pool -> outcomes -> summary.
// Results are data; one clear error is thrown at the end when the batch must be retried.

import { type BridgeConfig, loadConfig } from '../config/bridge.js'
import { createDeadLetterSink, type DeadLetterSink, type PoisonMessage } from '../dead-letters/sink.js'
import { storable } from '../dead-letters/storable.js'
import { ConfigError, DeadLetterError, DeliveryError } from '../errors.js'
import { parseEvent } from '../events/parse.js'
import { type FcContext, invocationDeadline } from '../fc/context.js'
import { createLogger, type Logger } from '../logging/logger.js'
import { redact, registerSecret } from '../logging/secrets.js'
import { type Publish, RuleIndex } from '../mapping/map-message.js'
import { GROUP_ID } from '../mqtt/client-id.js'
import { MqttPool } from '../mqtt/pool.js'
import { loadRuleSet, type RulesSource } from '../rules/load.js'
import type { RuleSet } from '../rules/schema.js'
import { BoundedSet } from './bounded-set.js'
import { planBatch } from './plan.js'

export interface Summary {
  requestId: string
  received: number
  published: number
  deadLettered: number
  /** Messages this instance had already delivered (same message ID and rule): not published again. */
  duplicates: number
  /** Messages not acknowledged for a transient reason; non-zero only in the error thrown. */
  failed: number
  durationMs: number
  /** How long the oldest message waited between its CloudEvent time and its publish; null without times. */
  lagMs: number | null
  rules: Record<string, number>
  /** MQTT 5 property sets left out on a 3.1.1 connection. */
  droppedV5Properties: number
}

/**
 * Message IDs this instance delivered, newest kept: five batches of the largest size (10,000), so a
 * retried batch is recognised, without growing forever. Exact keys, not hashes: a hash collision would
 * skip a message that was never delivered.
 */
const DELIVERED_MEMORY = 50_000
/** Per-message log lines beyond these are summed up in one line, so a bad batch or an outage cannot flood the logs. */
const MAX_DEAD_LETTER_LINES = 100
const MAX_FAILURE_LINES = 20

export class Bridge {
  readonly pool: MqttPool
  private readonly index: RuleIndex
  private readonly sink: DeadLetterSink
  private readonly delivered = new BoundedSet(DELIVERED_MEMORY)
  private log: Logger

  constructor(
    readonly config: BridgeConfig,
    readonly ruleSet: RuleSet,
    sink?: DeadLetterSink,
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
    this.log = createLogger(config.logLevel)
    this.pool = new MqttPool({
      url: config.mqttUrl,
      protocol: config.protocol,
      auth: config.auth,
      clientIdPrefix: config.clientIdPrefix,
      size: config.poolSize,
      publishTimeoutMs: config.publishTimeoutMs,
      rateLimit: config.rateLimit,
      tls: config.tls,
      onEvent: (fields) => (fields.event === 'mqtt.connect-failed' ? this.log.warn(fields) : this.log.info(fields)),
    })
  }

  /** Reads the environment and the rules; throws ConfigError or RulesError naming every problem. */
  static fromEnvironment(env: NodeJS.ProcessEnv, bundled: () => RulesSource): Bridge {
    const config = loadConfig(env)
    return new Bridge(config, loadRuleSet(config.rulesFile, bundled))
  }

  private warnedInsecure = false

  private begin(context: FcContext | undefined): void {
    registerSecret(context?.credentials?.accessKeySecret)
    registerSecret(context?.credentials?.securityToken)
    this.log = createLogger(this.config.logLevel, context?.logger, context?.logger ? undefined : context?.requestId)
    if (this.config.tls.insecure && !this.warnedInsecure) {
      this.warnedInsecure = true
      this.log.warn({
        event: 'mqtt.tls-insecure',
        url: this.pool.safeUrl,
        note: "MQTT_TLS_INSECURE=true: the broker's certificate is not verified; anyone on the path can read and alter messages",
      })
    }
  }

  /** The `initialize` hook: opens the pool before the first invocation. */
  async initialize(context?: FcContext): Promise<void> {
    this.begin(context)
    await this.pool.warm(Math.min(invocationDeadline(Date.now(), context), Date.now() + this.config.publishTimeoutMs))
  }

  async handle(event: unknown, context: FcContext): Promise<Summary> {
    const started = Date.now()
    this.begin(context)
    const requestId = context?.requestId ?? 'unknown'
    const deadline = invocationDeadline(started, context)
    const parsed = parseEvent(event)
    const plan = planBatch(parsed, this.index)

    const poison: PoisonMessage[] = plan.poison.map((p) => {
      const kept = storable(p.raw)
      return {
        reason: kept.note ? `${p.reason}; ${kept.note}` : p.reason,
        index: p.index,
        event: kept.event,
        ...(p.ruleId !== undefined ? { ruleId: p.ruleId } : {}),
        ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
      }
    })
    // What this instance already delivered (a retried batch) is not published again.
    const publishes: Publish[] = []
    const raws: unknown[] = []
    const keys: Array<string | undefined> = []
    let duplicates = plan.duplicates
    plan.publishes.forEach((p, i) => {
      const key = p.messageId === undefined ? undefined : deliveryKey(p)
      if (key !== undefined && this.delivered.has(key)) duplicates++
      else {
        publishes.push(p)
        raws.push(plan.raws[i])
        keys.push(key)
      }
    })
    let oldest = Infinity
    for (const m of parsed.messages) {
      if (m.time === undefined) continue
      const t = Date.parse(m.time)
      if (t < oldest) oldest = t
    }

    const { outcomes, droppedV5Properties } = await this.pool.publish(publishes, deadline)
    const publishedAt = Date.now()

    const rules: Record<string, number> = {}
    const failures: Array<{ p: Publish; reason: string }> = []
    let published = 0
    outcomes.forEach((o, i) => {
      const p = publishes[i]!
      if (o === undefined) {
        published++
        rules[p.ruleId] = (rules[p.ruleId] ?? 0) + 1
        const key = keys[i]
        if (key !== undefined) this.delivered.add(key)
      } else if (o.rejected) {
        poison.push({
          reason: o.reason,
          ruleId: p.ruleId,
          index: p.index,
          event: raws[i],
          ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
        })
      } else {
        failures.push({ p, reason: o.reason })
      }
    })

    let deadLetterError: DeadLetterError | undefined
    if (poison.length > 0) {
      poison.sort((a, b) => a.index - b.index)
      try {
        await this.sink.send(
          { kind: 'rocketmq-mqtt-bridge.poison', requestId, failedAt: new Date().toISOString(), messages: poison },
          context,
        )
      } catch (err) {
        deadLetterError = err instanceof DeadLetterError ? err : new DeadLetterError(this.sink.description, poison.length, err)
      }
      this.logEach(
        poison,
        (m) => ({
          event: 'bridge.dead-letter',
          requestId,
          ruleId: m.ruleId ?? null,
          messageId: m.messageId ?? null,
          index: m.index,
          reason: m.reason,
          target: this.sink.description,
          handedOff: deadLetterError === undefined,
        }),
        'warn',
        MAX_DEAD_LETTER_LINES,
      )
    }
    this.logEach(
      failures,
      ({ p, reason }) => ({
        event: 'bridge.failure',
        requestId,
        ruleId: p.ruleId,
        messageId: p.messageId ?? null,
        index: p.index,
        topic: p.topic,
        reason,
      }),
      'error',
      MAX_FAILURE_LINES,
    )

    const summary: Summary = {
      requestId,
      received: parsed.received,
      published,
      deadLettered: deadLetterError ? 0 : poison.length,
      duplicates,
      failed: failures.length,
      durationMs: Date.now() - started,
      lagMs: oldest === Infinity ? null : Math.max(0, publishedAt - oldest),
      rules,
      droppedV5Properties,
    }
    const outcome = failures.length > 0 ? 'retry' : deadLetterError ? 'dead-letter-failed' : 'ok'
    this.log[outcome === 'ok' ? 'info' : 'error']({ event: 'bridge.invocation', ...summary, shape: parsed.shape, outcome })

    if (failures.length > 0) {
      const reasons = countReasons(failures.map((f) => f.reason))
      if (deadLetterError) reasons.push(deadLetterError.message)
      throw new DeliveryError(failures.length, publishes.length, reasons.map(redact))
    }
    if (deadLetterError) throw deadLetterError
    return summary
  }

  private logEach<T>(
    items: T[],
    fields: (item: T) => { event: string } & Record<string, unknown>,
    level: 'warn' | 'error',
    max: number,
  ): void {
    for (const item of items.slice(0, max)) this.log[level](fields(item))
    if (items.length > max) {
      const first = fields(items[0]!)
      this.log[level]({
        event: first.event,
        requestId: first['requestId'],
        more: items.length - max,
        note: `${items.length - max} more like the above`,
      })
    }
  }

  async close(): Promise<void> {
    await this.pool.close()
  }
}

function deliveryKey(p: Publish): string {
  return `${p.ruleId}\u0000${p.messageId}`
}

/** ["x", "x", "y"] -> ["2 × x", "1 × y"], most frequent first. */
function countReasons(reasons: string[]): string[] {
  const counts = new Map<string, number>()
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} × ${r}`)
}
