// One bridge serving rules of all three source types: ApsaraMQ for RocketMQ 4.x (INSTANCE_ID in the
// event), 5.x (the instance only in the CloudEvent subject) and a self-managed Apache RocketMQ cluster
// (no instance at all, the message ID in data.msgId), delivered to their parent topics on Mosquitto.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const V4 = 'MQ_INST_1234567890123456_TestInst'
const V5 = 'rmq-cn-jte3w5i0a01'

const RULES = `
rules:
  - id: v4-orders
    source: { regionId: cn-hangzhou, instanceId: ${V4}, topic: orders, groupId: GID_v4_orders }
    target: { parentTopic: legacy }
  - id: v5-orders
    source: { type: apsaramq-5, regionId: cn-hangzhou, instanceId: ${V5}, topic: orders, groupId: v5-orders }
    target: { parentTopic: cloud }
  - id: self-orders
    source: { type: apache, regionId: cn-hangzhou, endpoint: "10.0.0.8:9876", topic: warehouse-orders, groupId: self-orders }
    target: { parentTopic: warehouse }
`

type Kind = 'v4' | 'v5' | 'apache'
const PARENT: Record<Kind, string> = { v4: 'legacy', v5: 'cloud', apache: 'warehouse' }

/** A message as each source type delivers it (the 5.x and self-managed shapes are inferred: test/fixtures/README.md). */
function message(kind: Kind, i: number, id: string): Record<string, unknown> {
  const common = { specversion: '1.0', type: 'mq:Topic:SendMessage', id: `ce-${id}`, time: new Date().toISOString() }
  const userProperties = { mqttSecondTopic: `/site${i % 3}`, qoslevel: String(i % 3) }
  const body = `${kind} #${i} ${id}`
  if (kind === 'v4') {
    return {
      ...common,
      subject: `acs:mq:cn-hangzhou:1234567890123456:${V4}%orders`,
      data: { topic: 'orders', systemProperties: { UNIQ_KEY: id, INSTANCE_ID: V4 }, userProperties, body },
    }
  }
  if (kind === 'v5') {
    return {
      ...common,
      subject: `acs:mq:cn-hangzhou:1234567890123456:${V5}%orders`,
      data: { topic: 'orders', systemProperties: { UNIQ_KEY: id }, userProperties, body },
    }
  }
  return { ...common, data: { msgId: id, topic: 'warehouse-orders', systemProperties: { KEYS: `k-${i}` }, userProperties, body } }
}

const KINDS: Kind[] = ['v4', 'v5', 'apache']

function batch(count: number, prefix: string): { event: unknown[]; expected: Map<string, string[]> } {
  const event: unknown[] = []
  const expected = new Map<string, string[]>()
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % 3]!
    const m = message(kind, i, `${prefix}-${i}`)
    event.push(m)
    const data = m['data'] as { userProperties: { mqttSecondTopic: string; qoslevel: string }; body: string }
    const lane = `${PARENT[kind]}${data.userProperties.mqttSecondTopic} qos${data.userProperties.qoslevel}`
    expected.set(lane, [...(expected.get(lane) ?? []), data.body])
  }
  return { event, expected }
}

function lanes(sub: Subscriber, exclude: (payload: string) => boolean): Map<string, string[]> {
  const got = new Map<string, string[]>()
  for (const m of sub.messages) {
    const payload = m.payload.toString()
    if (exclude(payload)) continue
    const lane = `${m.topic} qos${m.qos}`
    got.set(lane, [...(got.get(lane) ?? []), payload])
  }
  return got
}

describe('sources of every type through one bridge (Mosquitto)', needsMosquitto(), () => {
  let broker: Broker
  let sub: Subscriber
  const rules = loadRuleSet(undefined, () => ({ text: RULES, origin: 'sources test' }))

  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, ['legacy/#', 'cloud/#', 'warehouse/#'], 5)
  })
  after(async () => {
    await sub.close()
    await broker.stop()
  })

  test('a batch mixing 4.x, 5.x and self-managed messages reaches each rule parent topic, in order per topic and QoS, exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'))
    const bridge = new Bridge(loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dir}` }), rules)
    try {
      const { event, expected } = batch(90, 'MIX')
      const summary = await bridge.handle(Buffer.from(JSON.stringify(event)), fcContext('req-mix'))
      assert.deepEqual([summary.received, summary.published, summary.deadLettered, summary.failed], [90, 90, 0, 0])
      assert.deepEqual(summary.rules, { 'v4-orders': 30, 'v5-orders': 30, 'self-orders': 30 })

      // Barrier: one sentinel per lane through the same bridge, so it arrives after everything it guards.
      const sentinels = batch(90, 'SENTINEL')
      await bridge.handle(sentinels.event, fcContext('req-sentinel'))
      await sub.waitFor(180)
      assert.deepEqual(
        lanes(sub, (p) => p.includes('SENTINEL')),
        expected,
      )
      assert.deepEqual(await readDeadLetters(dir), [])

      // The same batch again: every message is recognised by its own ID (UNIQ_KEY or data.msgId), none is sent twice.
      const again = await bridge.handle(Buffer.from(JSON.stringify(event)), fcContext('req-again'))
      assert.deepEqual([again.published, again.duplicates], [0, 90])
    } finally {
      await bridge.close()
    }
  })

  test('a message naming no instance, on a topic two rules share, is a dead letter listing both candidates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'))
    const bridge = new Bridge(loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dir}` }), rules)
    try {
      const noInstance = {
        specversion: '1.0',
        id: 'ce-x',
        data: { topic: 'orders', systemProperties: { UNIQ_KEY: 'AMBIGUOUS-1' }, body: 'x' },
      }
      const summary = await bridge.handle([noInstance, message('v5', 1, 'CLEAR-1')], fcContext('req-ambiguous'))
      assert.deepEqual([summary.published, summary.deadLettered], [1, 1])
      const [entry] = await readDeadLetters(dir)
      assert.equal(entry?.messageId, 'AMBIGUOUS-1')
      assert.match(
        entry?.reason ?? '',
        /names no instance .* topic "orders" matches several rules: "v4-orders" \(instance "MQ_INST_1234567890123456_TestInst"\), "v5-orders" \(instance "rmq-cn-jte3w5i0a01"\)/,
      )
    } finally {
      await bridge.close()
    }
  })
})
