// RabbitMQ's MQTT plugin (Debian's rabbitmq-server 3.10), a broker that differs from Mosquitto where it
// matters: it speaks MQTT 3.1.1 only (a version-5 CONNECT is closed without CONNACK), answers a QoS 2
// publish with PUBACK (it delivers at QoS 1, at least once), rewrites '.' in topics to '/', and keeps a
// retained message for subscribers to its exact topic only. One node serves the whole suite.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaBridge, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { type RabbitMQ, startRabbitMQ } from '../helpers/rabbitmq.js'
import { needsRabbitMQ } from '../helpers/requirements.js'
import { cloudEvent, INSTANCE, SCENARIO_RULES } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

/** The scenario's rules, and two of profile mqtt: one retained, one whose topics may hold '.'. */
const RULES = `${SCENARIO_RULES.replace('profile: alibaba', 'profile: mqtt')}
  - id: retained
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: status, groupId: GID_test_status }
    target: { parentTopic: status, retain: true }
  - id: dotted
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: dotted, groupId: GID_test_dotted }
    target: { parentTopic: dotted }
`

function bridgeFor(rabbit: RabbitMQ, env: Record<string, string> = {}): Bridge {
  const config = loadConfig({ MQTT_URL: rabbit.url, DEAD_LETTER_TARGET: 'file:/tmp/dl-rabbitmq', MQTT_PUBLISH_TIMEOUT_MS: '5000', ...env })
  return new Bridge(
    config,
    loadRuleSet(undefined, () => ({ text: RULES, origin: 'rabbitmq' })),
  )
}

const command = (i: number, tag: string, qos: 0 | 1 | 2, topics = 20) =>
  cloudEvent(i, {
    topic: 'device-commands',
    userProperties: { mqttSecondTopic: `/${tag}/t${i % topics}`, qoslevel: String(qos) },
    body: `${tag}-${i}`,
    uniq: `${tag}-${i}`,
  })

/** Appends `value` to the list at `key`. */
function push(lists: Record<string, string[]>, key: string, value: string): void {
  const list = lists[key] ?? []
  list.push(value)
  lists[key] = list
}

/** Debian's wrapper starts a node only as root (or as rabbitmq); elsewhere the suite skips, unless CI requires it. */
const suiteOptions =
  process.getuid?.() === 0 || process.env['REQUIRE_RABBITMQ'] === '1'
    ? needsRabbitMQ()
    : { skip: 'starting a RabbitMQ node needs root; set REQUIRE_RABBITMQ=1 to fail instead of skipping' }

describe('RabbitMQ (MQTT plugin, 3.1.1 only)', suiteOptions, () => {
  let rabbit: RabbitMQ
  let sub: Subscriber
  before(async () => {
    rabbit = await startRabbitMQ()
    sub = await subscribe(rabbit.url, ['devices/#'], 4)
  })
  after(async () => {
    await sub?.close()
    await rabbit?.stop()
  })

  test('MQTT_PROTOCOL_VERSION=auto: MQTT 5 is closed without CONNACK, the pool falls back to 3.1.1 and says so once', async () => {
    const bridge = bridgeFor(rabbit)
    try {
      const ctx = fcContext('req-auto')
      const summary = await bridge.handle(
        Array.from({ length: 5 }, (_, i) => command(i, 'auto', 1)),
        ctx,
      )
      assert.equal(summary.published, 5)
      assert.equal(bridge.pool.protocolVersion, 4)
      assert.deepEqual(
        logEvents(ctx, 'mqtt.protocol-fallback').map((e) => e['version']),
        ['3.1.1'],
      )
    } finally {
      await bridge.close()
    }
  })

  test('MQTT_PROTOCOL_VERSION=5: the error says the broker may not speak MQTT 5 and what to set', async () => {
    const bridge = bridgeFor(rabbit, { MQTT_PROTOCOL_VERSION: '5' })
    try {
      await assert.rejects(bridge.handle([command(0, 'v5', 1)], fcContext('req-v5')), (err: Error) => {
        assert.ok(err instanceof DeliveryError)
        assert.match(
          err.message,
          /closed the connection before CONNACK; it may not speak MQTT 5: set MQTT_PROTOCOL_VERSION=auto \(MQTT 5, falling back to 3\.1\.1\) or MQTT_PROTOCOL_VERSION=4/,
        )
        return true
      })
    } finally {
      await bridge.close()
    }
  })

  test('a 1,000-message batch over 20 topics, QoS 0 and 1: every message once, in batch order per topic and QoS', async () => {
    const bridge = bridgeFor(rabbit)
    try {
      const event = Array.from({ length: 1000 }, (_, i) => command(i, 'order', i % 5 === 0 ? 0 : 1))
      const before = sub.messages.length
      const summary = await bridge.handle(event, fcContext('req-order', 60))
      assert.deepEqual([summary.published, summary.failed, summary.deadLettered], [1000, 0, 0])
      const lanes = Array.from({ length: 20 }, (_, t) => [0, 1].map((qos) => ({ topic: `devices/order/t${t}`, qos }))).flat()
      await barrier(
        viaBridge((e) => bridge.handle(e, fcContext('req-order-barrier'))),
        [sub],
        lanes,
        60_000,
      )
      const got = withoutSentinels(sub.messages.slice(before))
      const lane = (m: { topic: string; qos: number }) => `${m.topic} qos${m.qos}`
      const expected: Record<string, string[]> = {}
      for (let i = 0; i < 1000; i++) push(expected, lane({ topic: `devices/order/t${i % 20}`, qos: i % 5 === 0 ? 0 : 1 }), `order-${i}`)
      const actual: Record<string, string[]> = {}
      for (const m of got) push(actual, lane(m), m.payload.toString())
      assert.deepEqual(actual, expected)
    } finally {
      await bridge.close()
    }
  })

  test('QoS 2: acknowledged with PUBACK, delivered at QoS 1; the bridge counts them published and warns once per connection', async (t) => {
    const bridge = bridgeFor(rabbit)
    try {
      const before = sub.messages.length
      const ctx = fcContext('req-qos2')
      const summary = await bridge.handle(
        Array.from({ length: 10 }, (_, i) => command(i, 'qos2', 2, 2)),
        ctx,
      )
      assert.equal(summary.published, 10)
      const warnings = logEvents(ctx, 'mqtt.qos2-downgraded')
      assert.equal(warnings.length, 1)
      assert.match(String(warnings[0]!['note']), /delivers them at QoS 1, at least once/)
      await barrier(
        viaBridge((e) => bridge.handle(e, fcContext('req-qos2-barrier'))),
        [sub],
        [0, 1].map((k) => ({ topic: `devices/qos2/t${k}`, qos: 2 })),
      )
      const got = withoutSentinels(sub.messages.slice(before))
      assert.equal(got.length, 10)
      assert.ok(got.every((m) => m.qos === 1))
      t.diagnostic(
        `outcome ${JSON.stringify({ broker: 'RabbitMQ 3.10', sent: 'QoS 2', acknowledged: 'PUBACK', delivered: 'QoS 1', published: summary.published })}`,
      )
    } finally {
      await bridge.close()
    }
  })

  test("retained messages reach exact-topic subscribers only; '.' in a topic arrives as '/'", async () => {
    const bridge = bridgeFor(rabbit)
    const event = [
      cloudEvent(0, { topic: 'status', userProperties: { mqttSecondTopic: '/lamp1' }, body: 'on', uniq: 'ret-0' }),
      cloudEvent(1, { topic: 'dotted', userProperties: { mqttSecondTopic: '/a.b' }, body: 'dot', uniq: 'dot-1' }),
    ]
    const dotted = await subscribe(rabbit.url, ['dotted/#'], 4)
    try {
      assert.equal((await bridge.handle(event, fcContext('req-retained'))).published, 2)
      const exact = await subscribe(rabbit.url, ['status/lamp1'], 4)
      const wildcard = await subscribe(rabbit.url, ['status/#'], 4)
      try {
        const [retained] = await exact.waitFor(1, 10_000)
        assert.deepEqual([retained!.topic, retained!.payload.toString(), retained!.retain], ['status/lamp1', 'on', true])
        const [moved] = await dotted.waitFor(1, 10_000)
        assert.equal(moved!.topic, 'dotted/a/b')
        // A message published after the wildcard subscription arrives after anything retained would have.
        await viaClient(rabbit.url)([{ topic: 'status/barrier', qos: 1, payload: 'sentinel:retained' }])
        await wildcard.waitUntil((got) => got.some((m) => m.topic === 'status/barrier'), 10_000, 'the sentinel')
        assert.deepEqual(
          wildcard.messages.map((m) => m.topic),
          ['status/barrier'],
        )
      } finally {
        await exact.close()
        await wildcard.close()
      }
    } finally {
      await dotted.close()
      await bridge.close()
    }
  })
})
