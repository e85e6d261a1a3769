// Real brokers configured the way deployments are: Mosquitto with max_packet_size, message_size_limit,
// max_inflight_messages 1 and an ACL that denies a topic. The promise under test: a poison message never
// looks transient. Each case ends in one invocation with its good siblings delivered (a subscriber sees
// exactly them, in order per topic) and the bad message dead-lettered with a reason that names the cause.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import { previewEvent } from '../../shared/bridge/preview.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaBridge, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, type MosquittoOptions, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents, type TestContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, INSTANCE } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

/** Profile mqtt (any character a topic may hold), user properties forwarded. */
const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_test_commands }
    target: { parentTopic: devices, forwardUserProperties: true }
`
const TOPICS = 4

/** Message `i` of a batch: QoS 1 unless told, on one of four topics, a short body unless told. */
function command(i: number, tag: string, over: { body?: string; qos?: 0 | 1 | 2; props?: Record<string, string> } = {}) {
  return cloudEvent(i, {
    topic: 'device-commands',
    userProperties: { mqttSecondTopic: `/${tag}/t${i % TOPICS}`, qoslevel: String(over.qos ?? 1), ...over.props },
    body: over.body ?? `${tag}-${i}`,
    uniq: `${tag}-${i}`,
  })
}

interface Run {
  summary: Summary
  ctx: TestContext
  /** The dead letters' reasons, by batch position. */
  reasons: Map<number, string>
  /** What the subscriber got from this batch, per topic, in arrival order. */
  got: Record<string, string[]>
}

/** A bridge on `broker`, writing dead letters to its own directory. */
function bridgeOn(broker: Broker, env: Record<string, string> = {}, rules = RULES): Bridge & { deadLetters: string } {
  const dl = mkdtempSync(join(tmpdir(), 'dl-limits-'))
  const config = loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dl}`, MQTT_PUBLISH_TIMEOUT_MS: '60000', ...env })
  return Object.assign(
    new Bridge(
      config,
      loadRuleSet(undefined, () => ({ text: rules, origin: 'limits' })),
    ),
    { deadLetters: dl },
  )
}

/**
 * One invocation (20 s timeout: far below the 60 s acknowledgement timeout), then a barrier on every topic
 * and QoS used but `denied` ones.
 */
async function run(
  bridge: Bridge,
  sub: Subscriber,
  event: unknown[],
  tag: string,
  qos: number[] = [1],
  denied: number[] = [],
): Promise<Run> {
  const before = sub.messages.length
  const ctx = fcContext(`req-${tag}`, 20)
  const summary = await bridge.handle(event, ctx)
  const topics = Array.from({ length: TOPICS }, (_, t) => t).filter((t) => !denied.includes(t))
  const lanes = topics.flatMap((t) => qos.map((q) => ({ topic: `devices/${tag}/t${t}`, qos: q })))
  await barrier(
    viaBridge((e) => bridge.handle(e, fcContext(`req-${tag}-barrier`))),
    [sub],
    lanes,
  )
  const got: Record<string, string[]> = {}
  for (const m of withoutSentinels(sub.messages.slice(before))) push(got, m.topic, m.payload.toString())
  const reasons = new Map(logEvents(ctx, 'bridge.dead-letter').map((d) => [d['index'] as number, String(d['reason'])]))
  return { summary, ctx, reasons, got }
}

/** Per topic, the bodies of the batch's messages but the excluded ones, in batch order. */
function expectedPerTopic(count: number, tag: string, excluded: number[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (let i = 0; i < count; i++) if (!excluded.includes(i)) push(out, `devices/${tag}/t${i % TOPICS}`, `${tag}-${i}`)
  return out
}

/**
 * Each message once, at its first arrival. Messages the broker took but could not acknowledge before it
 * reset the connection are resent: duplicates, the price of at-least-once delivery.
 */
function firstArrivals(got: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(got).map(([topic, bodies]) => [topic, [...new Set(bodies)]]))
}

/** A Mosquitto with these options, a subscriber (MQTT 5) on devices/#, for one describe block. */
function withBroker(options: MosquittoOptions): { broker: () => Broker; sub: () => Subscriber } {
  let broker: Broker | undefined
  let sub: Subscriber | undefined
  before(async () => {
    broker = await startMosquitto(options)
    sub = await subscribe(broker.url, ['devices/#'], 5)
  })
  after(async () => {
    await sub?.close()
    await broker?.stop()
  })
  return { broker: () => broker!, sub: () => sub! }
}

const BIG = 'x'.repeat(2000)

/** Appends `value` to the list at `key`. */
function push(lists: Record<string, string[]>, key: string, value: string): void {
  const list = lists[key] ?? []
  list.push(value)
  lists[key] = list
}

describe('broker limit: max_packet_size 1024', needsMosquitto(), () => {
  const { broker, sub } = withBroker({ limits: { maxPacketSize: 1024 } })

  for (const [name, env, source, tag] of [
    [
      'MQTT 5: the CONNACK announces it',
      { MQTT_PROTOCOL_VERSION: '5' },
      /takes at most 1024 \(the maximum packet size in its CONNACK\)$/,
      'pk5',
    ],
    [
      'MQTT 3.1.1 with MQTT_MAX_PACKET_SIZE=1024',
      { MQTT_PROTOCOL_VERSION: '4', MQTT_MAX_PACKET_SIZE: '1024' },
      /takes at most 1024 \(MQTT_MAX_PACKET_SIZE=1024\)$/,
      'pk4',
    ],
  ] as const) {
    test(`${name}: the 2,000-byte message is a dead letter naming the limit and its size, unsent; its 31 siblings delivered`, async () => {
      const bridge = bridgeOn(broker(), env)
      try {
        const event = Array.from({ length: 32 }, (_, i) => command(i, tag, i === 7 ? { body: BIG } : {}))
        const r = await run(bridge, sub(), event, tag)
        assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [31, 1, 0])
        assert.match(r.reasons.get(7)!, /^its PUBLISH packet would be 20\d\d bytes; the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ /)
        assert.match(r.reasons.get(7)!, source)
        assert.deepEqual(r.got, expectedPerTopic(32, tag, [7]))
        assert.equal(bridge.pool.connectionsOpened, 1, 'never written: no connection lost')
        const stored = await readDeadLetters(bridge.deadLetters)
        assert.deepEqual(
          stored.map((d) => d.messageId),
          [`${tag}-7`],
        )
      } finally {
        await bridge.close()
      }
    })
  }

  test('MQTT 3.1.1 without MQTT_MAX_PACKET_SIZE: isolated by the closes it causes, dead-lettered in the same invocation', async (t) => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4' })
    try {
      const event = Array.from({ length: 32 }, (_, i) => command(i, 'pkx', i === 7 ? { body: BIG } : {}))
      const r = await run(bridge, sub(), event, 'pkx')
      assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [31, 1, 0])
      assert.match(
        r.reasons.get(7)!,
        /^the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ closed the connection each time this message was sent alone, 2 times \(.*\), while the messages written before and after it were acknowledged; its PUBLISH packet is 20\d\d bytes \(if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit\)$/,
      )
      assert.deepEqual(firstArrivals(r.got), expectedPerTopic(32, 'pkx', [7]))
      t.diagnostic(`duplicates: ${Object.values(r.got).flat().length - 31}`)
    } finally {
      await bridge.close()
    }
  })
  test('MQTT 3.1.1, the probe a QoS 0 message (QoS 1 on t0, the 2,000-byte QoS 1 on t1, QoS 0 on t2): the big one is a dead letter, the others delivered, in one invocation', async () => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4', MQTT_PUBLISH_TIMEOUT_MS: '5000' })
    try {
      const event = [command(0, 'pz'), command(1, 'pz', { body: BIG }), command(2, 'pz', { qos: 0 })]
      // A 4 s function timeout: a connection that spins (never yielding) until the deadline fails it as transient.
      let summary: Summary | undefined
      let error: string | undefined
      try {
        summary = await bridge.handle(event, fcContext('req-pz', 4))
      } catch (err) {
        error = (err as Error).message
      }
      assert.equal(error, undefined, 'the poison message must not fail as transient: every retry would meet it again')
      assert.deepEqual([summary!.published, summary!.deadLettered], [2, 1])
    } finally {
      await bridge.close()
    }
  })
})

describe('broker limit: max_qos 1 on MQTT 5 (the Maximum QoS in CONNACK)', needsMosquitto(), () => {
  const { broker, sub } = withBroker({ config: ['max_qos 1'] })

  test('20 QoS 2 among 40: the announced Maximum QoS is honoured before sending, one invocation decides every message, no connection lost', async () => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '5' })
    try {
      const event = Array.from({ length: 40 }, (_, i) => command(i, 'mq', { qos: i % 2 ? 2 : 1 }))
      const odd = Array.from({ length: 20 }, (_, j) => 2 * j + 1)
      const r = await run(bridge, sub(), event, 'mq')
      assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [20, 20, 0])
      for (const i of odd)
        assert.match(
          r.reasons.get(i) ?? '',
          /^it is published at QoS 2 \(.*\); the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ takes at most QoS 1 \(the Maximum QoS in its CONNACK\)$/,
        )
      assert.deepEqual(r.got, expectedPerTopic(40, 'mq', odd))
      assert.equal(bridge.pool.connectionsOpened, 1, `connections opened: ${bridge.pool.connectionsOpened}`)
    } finally {
      await bridge.close()
    }
  })
})

describe('broker limit: message_size_limit 1024 on MQTT 5 (PUBACK/PUBREC 0x95, which MQTT.js cannot read)', needsMosquitto(), () => {
  const { broker, sub } = withBroker({ limits: { messageSizeLimit: 1024 } })

  test('each oversized message is a dead letter saying what MQTT.js met; the rest delivered; no acknowledgement timeout waited out', async (t) => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '5' })
    try {
      const event = Array.from({ length: 20 }, (_, i) =>
        command(i, 'msl', { qos: i % 2 ? 2 : 1, ...(i === 4 || i === 9 ? { body: BIG } : {}) }),
      )
      const r = await run(bridge, sub(), event, 'msl', [1, 2])
      // MQTT_PUBLISH_TIMEOUT_MS is 60 s and the function's timeout 20 s: waiting out either would have failed
      // messages, and none failed.
      assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [18, 2, 0])
      assert.match(
        r.reasons.get(4)!,
        /failed each time this message was sent alone, 2 times \(.*MQTT\.js: Invalid puback reason code \(the broker answered.*\), while the messages? written/,
      )
      assert.match(r.reasons.get(9)!, /failed each time this message was sent alone, 2 times \(.*MQTT\.js: Invalid pubrec reason code/)
      assert.ok(logEvents(r.ctx, 'mqtt.client-error').length >= 2, 'MQTT.js errors are logged')
      // QoS 1 and 2 on the same topics: MQTT orders per topic and QoS, so compare the sets, each once.
      const got = Object.values(firstArrivals(r.got)).flat().sort()
      assert.deepEqual(
        got,
        Object.values(expectedPerTopic(20, 'msl', [4, 9]))
          .flat()
          .sort(),
      )
      t.diagnostic(`duplicates: ${Object.values(r.got).flat().length - 18}`)
    } finally {
      await bridge.close()
    }
  })

  test('MQTT 3.1.1 cannot tell (it acknowledges, then drops): MQTT_MAX_PACKET_SIZE set to the limit makes it a dead letter', async () => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4', MQTT_MAX_PACKET_SIZE: '1024' })
    try {
      const event = Array.from({ length: 8 }, (_, i) => command(i, 'msl4', i === 3 ? { body: BIG } : {}))
      const r = await run(bridge, sub(), event, 'msl4')
      assert.deepEqual([r.summary.published, r.summary.deadLettered], [7, 1])
      assert.match(r.reasons.get(3)!, /\(MQTT_MAX_PACKET_SIZE=1024\)$/)
      assert.deepEqual(r.got, expectedPerTopic(8, 'msl4', [3]))
    } finally {
      await bridge.close()
    }
  })
})

describe('MQTT 5 string rules (§1.5.4), on both protocol versions', needsMosquitto(), () => {
  const { broker, sub } = withBroker({})

  for (const version of ['5', '4'] as const) {
    test(`MQTT_PROTOCOL_VERSION=${version}: control characters and non-characters are dead letters naming field and code point; no connection lost`, async () => {
      const tag = `str${version}`
      const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: version })
      try {
        const bad: Record<number, [Record<string, string>, string]> = {
          2: [{ mqttSecondTopic: `/${tag}/t2/\u0001` }, 'userProperties.mqttSecondTopic: topic contains U+0001 (a control character)'],
          5: [{ mqttSecondTopic: `/${tag}/t1/\u0085` }, 'userProperties.mqttSecondTopic: topic contains U+0085 (a control character)'],
          8: [{ mqttSecondTopic: `/${tag}/t0/\uFFFF` }, 'userProperties.mqttSecondTopic: topic contains U+FFFF (a non-character)'],
          11: [{ note: 'a\u0085b' }, 'userProperties.note: contains U+0085 (a control character)'],
          14: [{ mqtt5ContentType: 'text/\u0001plain' }, 'userProperties.mqtt5ContentType: contains U+0001 (a control character)'],
        }
        const event = Array.from({ length: 16 }, (_, i) => command(i, tag, bad[i] ? { props: bad[i][0] } : {}))
        const r = await run(bridge, sub(), event, tag)
        assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [11, 5, 0])
        for (const [i, [, reason]] of Object.entries(bad))
          assert.equal(r.reasons.get(Number(i)), `${reason}, which MQTT forbids in a UTF-8 string`)
        // The validate-rules preview runs the same mapping, and says the same.
        const preview = previewEvent(event, bridge.ruleSet)
        assert.deepEqual(new Map(preview.deadLetters.map((d) => [d.index, d.reason])), r.reasons)
        assert.deepEqual(r.got, expectedPerTopic(16, tag, Object.keys(bad).map(Number)))
        assert.equal(bridge.pool.connectionsOpened, 1)
      } finally {
        await bridge.close()
      }
    })
  }
})

describe('broker limit: max_inflight_messages 1 on MQTT 3.1.1, which cannot announce it', needsMosquitto(), () => {
  const { broker, sub } = withBroker({ limits: { maxInflightMessages: 1 } })

  test('MQTT_MAX_IN_FLIGHT=1: a QoS 2 batch arrives whole, on one connection', async () => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4', MQTT_MAX_IN_FLIGHT: '1' })
    try {
      const event = Array.from({ length: 60 }, (_, i) => command(i, 'inf1', { qos: 2 }))
      const r = await run(bridge, sub(), event, 'inf1', [2])
      assert.deepEqual([r.summary.published, r.summary.failed], [60, 0])
      assert.deepEqual(r.got, expectedPerTopic(60, 'inf1', []))
      assert.equal(bridge.pool.connectionsOpened, 1)
    } finally {
      await bridge.close()
    }
  })

  test('the default window of 20: the broker closes the connection over its quota; resent one at a time, still whole', async (t) => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4' })
    try {
      const event = Array.from({ length: 60 }, (_, i) => command(i, 'inf20', { qos: 2 }))
      const r = await run(bridge, sub(), event, 'inf20', [2])
      assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [60, 0, 0])
      assert.deepEqual(firstArrivals(r.got), expectedPerTopic(60, 'inf20', []))
      assert.ok(bridge.pool.connectionsOpened > 1)
      t.diagnostic(`connections opened with a window of 20: ${bridge.pool.connectionsOpened}`)
    } finally {
      await bridge.close()
    }
  })
})

describe('broker limit: an ACL that denies a topic', needsMosquitto(), () => {
  const { broker, sub } = withBroker({ denyTopics: ['devices/acl/t1'] })

  test('MQTT 5: PUBACK 0x87 is a dead letter; an entry nested 100,000 deep is still stored; the rest delivered', async (t) => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '5' })
    try {
      let deep: unknown = 'bottom'
      for (let i = 0; i < 100_000; i++) deep = [deep]
      const event = Array.from({ length: 12 }, (_, i) => command(i, 'acl'))
      ;(event[5] as { data: Record<string, unknown> }).data['extra'] = deep
      const r = await run(bridge, sub(), event, 'acl', [1], [1])
      assert.deepEqual([r.summary.published, r.summary.deadLettered, r.summary.failed], [9, 3, 0])
      for (const i of [1, 5, 9]) assert.match(r.reasons.get(i)!, /rejected the publish: Publish error: Not authorized \(reason code 0x87\)/)
      assert.match(
        r.reasons.get(5)!,
        /; the entry \(object\) cannot be kept as JSON, it is nested deeper than 100 levels: stored as its JSON text$/,
      )
      const stored = await readDeadLetters(bridge.deadLetters)
      assert.deepEqual(stored.map((d) => d.messageId).sort(), ['acl-1', 'acl-5', 'acl-9'])
      assert.deepEqual(firstArrivals(r.got), expectedPerTopic(12, 'acl', [1, 5, 9]))
      t.diagnostic(`duplicates: ${Object.values(r.got).flat().length - 9}`)
    } finally {
      await bridge.close()
    }
  })

  test('MQTT 3.1.1 cannot tell: the broker acknowledges the denied messages and drops them (documented)', async () => {
    const bridge = bridgeOn(broker(), { MQTT_PROTOCOL_VERSION: '4' })
    try {
      const r = await run(
        bridge,
        sub(),
        Array.from({ length: 8 }, (_, i) => command(i, 'acl')),
        'acl',
        [1],
        [1],
      )
      assert.deepEqual([r.summary.published, r.summary.deadLettered], [8, 0])
      assert.deepEqual(firstArrivals(r.got), expectedPerTopic(8, 'acl', [1, 5]))
    } finally {
      await bridge.close()
    }
  })
})

describe('a message ID reused across invocations (UNIQ_KEY is set by producers, and predictable)', needsMosquitto(), () => {
  const { broker, sub } = withBroker({})

  test('a different message with a delivered ID is published; the same message again is a duplicate, for both', async () => {
    const bridge = bridgeOn(broker())
    try {
      const first = [command(0, 'reuse', { body: 'first' })]
      const second = [command(0, 'reuse', { body: 'second' })]
      const summaries: Array<[number, number]> = []
      for (const event of [first, second, first, second]) {
        const s = await bridge.handle(event, fcContext('req-reuse'))
        summaries.push([s.published, s.duplicates])
      }
      assert.deepEqual(summaries, [
        [1, 0],
        [1, 0],
        [0, 1],
        [0, 1],
      ])
      await barrier(
        viaBridge((e) => bridge.handle(e, fcContext('req-reuse-barrier'))),
        [sub()],
        [{ topic: 'devices/reuse/t0', qos: 1 }],
      )
      const got = withoutSentinels(sub().messages).filter((m) => m.topic === 'devices/reuse/t0')
      assert.deepEqual(
        got.map((m) => m.payload.toString()),
        ['first', 'second'],
      )
    } finally {
      await bridge.close()
    }
  })
})

describe('names that are also names on Object.prototype, end to end', needsMosquitto(), () => {
  const { broker, sub } = withBroker({})
  const rules = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: constructor
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_test_constructor }
    target: { parentTopic: devices, forwardUserProperties: true }
  - id: toString
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: proto, groupId: GID_test_tostring }
    target: { parentTopic: proto }
`
  const NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']

  test('forwarded user properties reach an MQTT 5 subscriber exactly; the summary and the preview say the same', async () => {
    const bridge = bridgeOn(broker(), {}, rules)
    try {
      const props = NAMES.map((n, i) => `"${n}":"v${i}"`).join(',')
      const entry = (id: string, topic: string) =>
        `{"specversion":"1.0","id":"${id}","data":{"topic":"${topic}","systemProperties":{"UNIQ_KEY":"${id}","INSTANCE_ID":"${INSTANCE}"},` +
        `"userProperties":{"mqttSecondTopic":"/proto/t0",${props}},"body":"${id}"}}`
      // JSON text, as Function Compute passes it: "__proto__" is an own key there.
      const event = Buffer.from(`[${entry('P1', 'device-commands')},${entry('P2', 'proto')}]`)
      const summary = await bridge.handle(event, fcContext('req-proto'))
      assert.deepEqual(JSON.parse(JSON.stringify(summary.rules)), JSON.parse('{"constructor":1,"toString":1}'))
      await barrier(
        viaBridge((e) => bridge.handle(e, fcContext('req-proto-barrier'))),
        [sub()],
        [{ topic: 'devices/proto/t0', qos: 1 }],
      )
      const got = withoutSentinels(sub().messages).filter((m) => m.topic === 'devices/proto/t0')
      assert.equal(got.length, 1)
      const expected = NAMES.map((n, i) => [n, `v${i}`])
      assert.deepEqual(Object.entries(got[0]!.userProperties ?? {}), expected)
      const preview = previewEvent(event, bridge.ruleSet)
      assert.deepEqual(Object.entries(preview.publishes[0]!.properties?.userProperties ?? {}), expected)
      assert.deepEqual(
        preview.publishes.map((p) => p.ruleId),
        ['constructor', 'toString'],
      )
    } finally {
      await bridge.close()
    }
  })
})
