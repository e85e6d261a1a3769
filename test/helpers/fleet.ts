// What the fleet-store suites share: a real Redis (with a password), a real Mosquitto, a real subscriber that
// counts arrivals, and bridge instances that are each a process loading the built bundle.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildAll } from '../../scripts/build.js'
import { barrier, type Lane, viaClient, withoutSentinels } from './barrier.js'
import { type Broker, startMosquitto } from './broker.js'
import { BUNDLE, type Instance, startInstance } from './bundle-instance.js'
import { type RedisServer, startRedis } from './redis.js'
import { needsMosquitto, needsRedis } from './requirements.js'
import { cloudEvent, type Expected, SCENARIO_RULES, SUBSCRIPTIONS } from './scenario.js'
import { type Subscriber, subscribe } from './subscriber.js'

/** node:test options for a suite that needs both Redis and Mosquitto. */
export function needsFleet(): { skip?: string } {
  const reasons = [needsRedis().skip, needsMosquitto().skip].filter((r): r is string => r !== undefined)
  return reasons.length > 0 ? { skip: reasons.join('; ') } : {}
}

export interface FleetWorld {
  redis: RedisServer
  broker: Broker
  sub: Subscriber
  /** The environment of an instance: the broker, the scenario rules, the store; `extra` on top. */
  env(extra?: Record<string, string>): Record<string, string>
  /** A new instance (a process); closed by close(). */
  instance(extra?: Record<string, string>): Instance
  /** Waits until everything published on these lanes has arrived (the instances' invocations must have returned). */
  settle(lanes: Iterable<Lane>): Promise<void>
  close(): Promise<void>
}

export async function fleetWorld(): Promise<FleetWorld> {
  // npm test builds dist/ first (pretest); build it here when a suite runs on its own.
  if (!existsSync(BUNDLE)) await buildAll({ quiet: true })
  const work = mkdtempSync(join(tmpdir(), 'fleet-'))
  const rulesFile = join(work, 'rules.yaml')
  writeFileSync(rulesFile, SCENARIO_RULES)
  const redis = await startRedis()
  const broker = await startMosquitto()
  const sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
  const instances: Instance[] = []
  const env = (extra: Record<string, string> = {}) => ({
    MQTT_URL: broker.url,
    RULES_FILE: rulesFile,
    DEAD_LETTER_TARGET: `file:${join(work, 'dead-letters')}`,
    LOG_LEVEL: 'debug',
    ...redis.env(),
    ...extra,
  })
  return {
    redis,
    broker,
    sub,
    env,
    instance(extra) {
      const i = startInstance(env(extra))
      instances.push(i)
      return i
    },
    // Every invocation has returned, so the broker has routed all it acknowledged before this sentinel exists.
    settle: (lanes) => barrier(viaClient(broker.url), [sub], lanes),
    async close() {
      await Promise.all(instances.map((i) => i.close()))
      await sub.close()
      await broker.stop()
      await redis.stop()
    },
  }
}

/** `count` QoS 1 commands for the scenario's `commands` rule, message IDs `<idPrefix><i>`, bodies `<body> #<i>`. */
export function commands(count: number, idPrefix: string, body = idPrefix): { event: unknown[]; expected: Expected[] } {
  const event: unknown[] = []
  const expected: Expected[] = []
  for (let i = 0; i < count; i++) {
    const payload = `${body} #${i}`
    event.push(
      cloudEvent(i, {
        topic: 'device-commands',
        userProperties: { mqttSecondTopic: `/dev${i % 7}` },
        body: payload,
        uniq: `${idPrefix}${i}`,
      }),
    )
    expected.push({ index: i, ruleId: 'commands', topic: `devices/dev${i % 7}`, qos: 1, payload: Buffer.from(payload), v5: {} })
  }
  return { event, expected }
}

/** How many times each expected payload arrived (sentinels and other tests' messages left out). */
export function arrivals(sub: Subscriber, expected: Expected[]): Map<string, number> {
  const wanted = new Set(expected.map((e) => e.payload.toString('hex')))
  const counts = new Map<string, number>()
  for (const m of withoutSentinels(sub.messages)) {
    const hex = m.payload.toString('hex')
    if (wanted.has(hex)) counts.set(hex, (counts.get(hex) ?? 0) + 1)
  }
  return counts
}

/** Every expected message arrived exactly once. */
export function assertExactlyOnce(sub: Subscriber, expected: Expected[]): void {
  const counts = arrivals(sub, expected)
  const twice = [...counts.values()].filter((n) => n > 1).length
  assert.equal(twice, 0, `${twice} messages arrived more than once`)
  assert.equal(counts.size, expected.length, `${counts.size} of ${expected.length} messages arrived`)
}

/** The JSON log lines of an answer with this `event`. */
export function events(lines: string[], event: string): Array<Record<string, unknown>> {
  return lines
    .map((l) => l.slice(l.indexOf(' ') + 1))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o['event'] === event)
}
