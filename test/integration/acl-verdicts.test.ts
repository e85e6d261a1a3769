// A refusal that can answer everything the bridge sends (PUBACK 0x87 Not authorized, from a Mosquitto ACL) is a
// message's fault only with evidence that the broker takes this bridge's publishes: a QoS 1 or 2 delivery in
// the same call, or by the same pool within the last 10 minutes (docs/reliability.md, "Poison isolation").
// Without it, nothing singles a message out: the invocation fails as transient and nothing is dead-lettered.
// On a real Mosquitto 2.0.11 with an ACL, MQTT 5.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import type { Publish } from '../../shared/mapping/publish.js'
import { type Clock, systemClock } from '../../shared/mqtt/clock.js'
import { MqttPool } from '../../shared/mqtt/pool.js'
import { ACCEPTANCE_EVIDENCE_MS } from '../../shared/mqtt/wide-refusals.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { commands, INSTANCE } from '../helpers/scenario.js'
import { TestLog } from '../unit/mqtt/fakes.js'

const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_test_commands }
    target: { parentTopic: devices }
`

function bridgeOn(broker: Broker): { bridge: Bridge; deadLetters: string } {
  const deadLetters = mkdtempSync(join(tmpdir(), 'dl-acl-'))
  const config = loadConfig({
    MQTT_URL: broker.url,
    MQTT_PROTOCOL_VERSION: '5',
    DEAD_LETTER_TARGET: `file:${deadLetters}`,
    MQTT_PUBLISH_TIMEOUT_MS: '5000',
  })
  const bridge = new Bridge(
    config,
    loadRuleSet(undefined, () => ({ text: RULES, origin: 'acl verdicts' })),
  )
  return { bridge, deadLetters }
}

describe('ACL verdicts: Mosquitto denying devices/denied/#, MQTT 5', needsMosquitto(), () => {
  let broker: Broker | undefined
  before(async () => {
    broker = await startMosquitto({ denyTopics: ['devices/denied/#'] })
  })
  after(async () => {
    await broker?.stop()
  })

  test('every message answered 0x87 and nothing ever accepted: the invocation fails as transient, nothing is dead-lettered, one mqtt.broker-trouble line', async () => {
    const { bridge, deadLetters } = bridgeOn(broker!)
    try {
      const ctx = fcContext('req-acl-all', 20)
      const error = await bridge.handle(commands('denied', 12), ctx).then(
        (s) => assert.fail(`returned ${JSON.stringify(s)}`),
        (err: unknown) => err as Error,
      )
      assert.match(error.message, /\[verdicts v1 t12\]/, error.message)
      assert.match(error.message, /12 of 12/)
      assert.match(error.message, /reason code 0x87.*nothing singles this message out/)
      assert.deepEqual(logEvents(ctx, 'bridge.dead-letter'), [])
      assert.deepEqual(readdirSync(deadLetters), [], 'nothing stored as a dead letter')
      const trouble = logEvents(ctx, 'mqtt.broker-trouble')
      assert.equal(trouble.length, 1)
      assert.equal(trouble[0]!['verdict'], 'transient')
      assert.match(String(trouble[0]!['why']), /0x87 \(Not authorized\).*nothing singles a message out \(check the broker's ACL/)
    } finally {
      await bridge.close()
    }
  })

  test('after a batch delivered on an allowed topic, a batch entirely to the denied topic is dead-lettered: the history is the evidence', async () => {
    const { bridge } = bridgeOn(broker!)
    try {
      const ok = await bridge.handle(commands('allowed', 4), fcContext('req-acl-ok', 20))
      assert.deepEqual([ok.published, ok.deadLettered, ok.failed], [4, 0, 0])
      const ctx = fcContext('req-acl-denied', 20)
      const denied = await bridge.handle(commands('denied', 8), ctx)
      assert.deepEqual([denied.published, denied.deadLettered, denied.failed], [0, 8, 0])
      const reasons = logEvents(ctx, 'bridge.dead-letter').map((d) => String(d['reason']))
      assert.equal(reasons.length, 8)
      for (const r of reasons) assert.match(r, /rejected the publish: Publish error: Not authorized \(reason code 0x87\)$/)
    } finally {
      await bridge.close()
    }
  })

  test('the evidence lapses after 10 minutes on the pool clock: the same refusals fail as transient again', async () => {
    // The system clock, moved forward by hand: timers run as they would, `now` jumps.
    let offset = 0
    const clock: Clock = { ...systemClock, now: () => Date.now() + offset }
    const pool = new MqttPool({
      url: broker!.url,
      protocol: 5,
      auth: { kind: 'none' },
      clientIdPrefix: 'GID_acl',
      size: 2,
      publishTimeoutMs: 5000,
      clock,
    })
    const item = (topic: string, i: number): Publish => ({
      ruleId: 'r',
      index: i,
      topic,
      qos: 1,
      retain: false,
      payload: Buffer.from(`lapse-${i}`),
    })
    const batch = (tag: string) => [0, 1, 2, 3].map((i) => item(`devices/${tag}/t${i}`, i))
    const log = new TestLog()
    try {
      const ok = await pool.publish(batch('allowed'), clock.now() + 15_000, log)
      assert.deepEqual(
        ok.outcomes.map((o) => o.kind),
        ['delivered', 'delivered', 'delivered', 'delivered'],
      )
      offset += ACCEPTANCE_EVIDENCE_MS - 60_000
      const within = await pool.publish(batch('denied'), clock.now() + 15_000, log)
      assert.deepEqual(
        within.outcomes.map((o) => o.kind),
        ['refused', 'refused', 'refused', 'refused'],
      )
      offset += 60_000
      const lapsed = await pool.publish(batch('denied'), clock.now() + 15_000, log)
      assert.deepEqual(
        lapsed.outcomes.map((o) => o.kind),
        ['failed', 'failed', 'failed', 'failed'],
      )
      assert.equal(log.events('mqtt.broker-trouble').length, 1)
    } finally {
      await pool.close()
    }
  })
})
