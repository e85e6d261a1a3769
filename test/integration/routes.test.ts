// Routes on a real Mosquitto: one batch of existing RocketMQ messages, with no MQTT-specific properties,
// routed by a JSON body field and by a user property to two topic trees, each watched by its own
// subscriber (MQTT 5 and 3.1.1); what no route takes is filtered, what cannot fill a level is a dead letter.
// Numbers beyond a double's precision reach the topic the producer named, and the W3C trace context reaches
// an MQTT 5 device (and is dropped and counted on MQTT 3.1.1).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, type SentinelSender, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, INSTANCE } from '../helpers/scenario.js'
import { type Received, type Subscriber, subscribe } from '../helpers/subscriber.js'

// Route 0 carries the barrier's sentinels to any lane (through the same bridge, so they follow what it sent).
const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: plant
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: plant-events, groupId: GID_test_plant }
    target: { parentTopic: unused }
    unmatched: skip
    routes:
      - when: { userProperties.sentinel: { exists: true } }
        topic: \${mqttSecondTopic}
        allowAnyParent: true
      - when: { body.kind: alarm }
        topic: alarms/\${body.site:-unknown}/\${body.device}
        qos: 2
        userProperties: { severity: "\${body.severity:-normal}" }
      - when: { userProperties.region: { prefix: eu- } }
        topic: sensors/eu/\${userProperties.region}
  - id: traced
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: traced-events, groupId: GID_test_traced }
    target: { parentTopic: traced }
    routes:
      - when: { body.n: { exists: true } }
        topic: traced/num/\${body.n}
`

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'rojo=00f067aa0ba902b7'

interface Want {
  topic: string
  qos: number
  payload: string
  severity?: string
}

/** A batch of 120: alarms by body, EU sensors by property, unrouted info messages, and alarms whose device cannot fill a level. */
function batch(prefix: string): { event: unknown[]; want: Want[]; filtered: number; poison: number } {
  const event: unknown[] = []
  const want: Want[] = []
  let filtered = 0
  let poison = 0
  for (let i = 0; i < 120; i++) {
    const uniq = `${prefix}${String(i).padStart(6, '0')}`
    const kind = i % 6
    if (kind < 2) {
      const site = i % 4 === 0 ? 'hz' : 'sh'
      const severity = i % 3 === 0 ? 'high' : undefined
      const body = JSON.stringify({ kind: 'alarm', site, device: `d${i % 5}`, seq: uniq, ...(severity ? { severity } : {}) })
      event.push(cloudEvent(i, { topic: 'plant-events', userProperties: {}, body, uniq }))
      want.push({ topic: `alarms/${site}/d${i % 5}`, qos: 2, payload: body, severity: severity ?? 'normal' })
    } else if (kind < 4) {
      const region = i % 4 === 2 ? 'eu-1' : 'eu-2'
      const body = `reading ${uniq}`
      event.push(cloudEvent(i, { topic: 'plant-events', userProperties: { region }, body, uniq }))
      want.push({ topic: `sensors/eu/${region}`, qos: 1, payload: body })
    } else if (kind === 4) {
      event.push(cloudEvent(i, { topic: 'plant-events', userProperties: { region: 'us-1' }, body: JSON.stringify({ kind: 'info' }), uniq }))
      filtered++
    } else {
      event.push(cloudEvent(i, { topic: 'plant-events', userProperties: {}, body: JSON.stringify({ kind: 'alarm', device: 'a/b' }), uniq }))
      poison++
    }
  }
  return { event, want, filtered, poison }
}

function assertReceived(want: Want[], got: Received[], version: 4 | 5): void {
  const lanes = (items: Array<{ topic: string; qos: number; payload: string }>) => {
    const m = new Map<string, string[]>()
    for (const it of items) m.set(`${it.topic} qos${it.qos}`, [...(m.get(`${it.topic} qos${it.qos}`) ?? []), it.payload])
    return Object.fromEntries([...m].sort())
  }
  // Per topic and QoS, the batch order; nothing missing, nothing extra.
  assert.deepEqual(lanes(got.map((m) => ({ topic: m.topic, qos: m.qos, payload: m.payload.toString() }))), lanes(want))
  if (version === 5)
    for (const m of got) {
      const w = want.find((x) => x.payload === m.payload.toString())!
      assert.deepEqual(m.userProperties ? { ...m.userProperties } : undefined, w.severity ? { severity: w.severity } : undefined, m.topic)
    }
}

describe('routes on Mosquitto', needsMosquitto(), () => {
  let broker: Broker
  let alarms: Subscriber
  let sensors: Subscriber
  let traced: Subscriber
  let bridge: Bridge
  let deadLetters: string

  before(async () => {
    broker = await startMosquitto()
    alarms = await subscribe(broker.url, ['alarms/#'], 5)
    sensors = await subscribe(broker.url, ['sensors/#'], 4)
    traced = await subscribe(broker.url, ['traced/#'], 5)
    deadLetters = mkdtempSync(join(tmpdir(), 'dl-routes-'))
    const config = loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${deadLetters}`, MQTT_POOL_SIZE: '2' })
    bridge = new Bridge(
      config,
      loadRuleSet(undefined, () => ({ text: RULES, origin: 'routes test' })),
    )
  })
  after(async () => {
    await bridge.close()
    await alarms.close()
    await sensors.close()
    await traced.close()
    await broker.stop()
  })

  const sentinels: SentinelSender = async (list) => {
    const event = list.map((s, i) =>
      cloudEvent(i, {
        topic: 'plant-events',
        userProperties: { sentinel: '1', mqttSecondTopic: s.topic, qoslevel: String(s.qos) },
        body: s.payload,
        uniq: s.payload,
      }),
    )
    const summary = await bridge.handle(event, fcContext('req-sentinels'))
    if (summary.published !== list.length) throw new Error(`the bridge published ${summary.published} of ${list.length} sentinels`)
  }

  test('a batch routed by body field and property reaches each topic tree; the rest is filtered or dead-lettered', async () => {
    const { event, want, filtered, poison } = batch('R')
    const ctx = fcContext('req-routes')
    const summary = await bridge.handle(Buffer.from(JSON.stringify(event)), ctx)
    assert.equal(summary.received, 120)
    assert.equal(summary.published, want.length)
    assert.equal(summary.filtered, filtered)
    assert.equal(summary.deadLettered, poison)
    assert.equal(summary.failed, 0)
    assert.deepEqual(summary.rules, { plant: want.length })

    const [line] = logEvents(ctx, 'bridge.filtered')
    assert.deepEqual(line, { event: 'bridge.filtered', requestId: 'req-routes', filtered, rules: { plant: filtered } })
    assert.equal(logEvents(ctx, 'bridge.invocation')[0]!['filtered'], filtered)

    // One barrier per tree: each subscriber sees only its own tree's sentinels.
    await barrier(
      sentinels,
      [alarms],
      want.filter((w) => w.topic.startsWith('alarms/')),
    )
    await barrier(
      sentinels,
      [sensors],
      want.filter((w) => w.topic.startsWith('sensors/')),
    )
    const gotAlarms = withoutSentinels(alarms.messages).filter((m) => m.topic.startsWith('alarms/'))
    const gotSensors = withoutSentinels(sensors.messages).filter((m) => m.topic.startsWith('sensors/'))
    assertReceived(
      want.filter((w) => w.topic.startsWith('alarms/')),
      gotAlarms,
      5,
    )
    assertReceived(
      want.filter((w) => w.topic.startsWith('sensors/')),
      gotSensors,
      4,
    )

    const stored = await readDeadLetters(deadLetters)
    assert.equal(stored.length, poison)
    for (const d of stored) assert.match(d.reason, /^routes\[1\]\.topic: \$\{body\.device\} is "a\/b", which contains '\/'/)
  })

  test('numbers beyond a double reach the topic the producer named; the trace context reaches the device', async () => {
    // 2^53 + 1 and 2^53 are one double apart from nothing: JSON.parse would send both to .../9007199254740992.
    const numbers = ['9007199254740993', '9007199254740992', '12345678901234567891', '1.10']
    const event = [
      ...numbers.map((n, i) => cloudEvent(i, { topic: 'traced-events', userProperties: {}, body: `{"n": ${n}}`, uniq: `N${i}` })),
      cloudEvent(4, {
        topic: 'traced-events',
        userProperties: { mqttSecondTopic: '/t', traceparent: TRACEPARENT, tracestate: TRACESTATE, other: 'kept back' },
        body: 'traced',
        uniq: 'T0',
      }),
    ]
    const summary = await bridge.handle(event, fcContext('req-traced'))
    assert.equal(summary.published, 5)
    const want = [
      ...numbers.map((n) => ({ topic: `traced/num/${n}`, qos: 1, payload: `{"n": ${n}}` })),
      { topic: 'traced/t', qos: 1, payload: 'traced' },
    ]
    await barrier(sentinels, [traced], want)
    const got = withoutSentinels(traced.messages)
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]).sort(), want.map((w) => [w.topic, w.payload]).sort())
    const t = got.find((m) => m.topic === 'traced/t')!
    assert.deepEqual({ ...t.userProperties }, { traceparent: TRACEPARENT, tracestate: TRACESTATE })
  })

  test('on MQTT 3.1.1 the trace context is dropped and counted', async () => {
    const config = loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${deadLetters}`, MQTT_PROTOCOL_VERSION: '4' })
    const v4 = new Bridge(
      config,
      loadRuleSet(undefined, () => ({ text: RULES, origin: 'routes test' })),
    )
    try {
      const userProperties = { mqttSecondTopic: '/v4', traceparent: TRACEPARENT }
      const summary = await v4.handle(
        [cloudEvent(0, { topic: 'traced-events', userProperties, body: 'on 3.1.1', uniq: 'V4' })],
        fcContext('req-v4'),
      )
      assert.equal(summary.published, 1)
      assert.equal(summary.droppedV5Properties, 1)
      await traced.waitUntil((got) => got.some((m) => m.topic === 'traced/v4'), 20000, 'the 3.1.1 message')
      assert.equal(traced.messages.find((m) => m.topic === 'traced/v4')!.userProperties, undefined)
    } finally {
      await v4.close()
    }
  })
})
