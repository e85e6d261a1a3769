// The bridge against a real Mosquitto, with real MQTT 5 and 3.1.1 subscribers.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaBridge, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { freePort } from '../helpers/ports.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { assertDelivered, cloudEvent, makeBatch, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))

function bridgeFor(url: string, env: Record<string, string> = {}): { bridge: Bridge; deadLetters: string } {
  const deadLetters = mkdtempSync(join(tmpdir(), 'dl-'))
  const config = loadConfig({ MQTT_URL: url, DEAD_LETTER_TARGET: `file:${deadLetters}`, ...env })
  return { bridge: new Bridge(config, rules), deadLetters }
}

const context = fcContext

/** Waits until everything `bridge` sent on these topics and QoS levels has reached `subscribers` (helpers/barrier.ts). */
const settle = (bridge: Bridge, subscribers: Subscriber[], lanes: Array<{ topic: string; qos: number }>) =>
  barrier(
    viaBridge((event) => bridge.handle(event, context('req-barrier'))),
    subscribers,
    lanes,
  )

describe('bridge on Mosquitto', needsMosquitto(), () => {
  let broker: Broker
  let sub5: Subscriber
  let sub4: Subscriber

  before(async () => {
    broker = await startMosquitto()
    sub5 = await subscribe(broker.url, SUBSCRIPTIONS, 5)
    sub4 = await subscribe(broker.url, SUBSCRIPTIONS, 4)
  })
  after(async () => {
    await sub5.close()
    await sub4.close()
    await broker.stop()
  })
  const reset = () => {
    sub5.messages.length = 0
    sub4.messages.length = 0
  }

  for (const protocol of ['5', 'auto', '4'] as const) {
    test(`1,200 messages over 3 rules and 60 topics, QoS 0/1/2 mixed, reach MQTT 5 and 3.1.1 subscribers exactly (MQTT_PROTOCOL_VERSION=${protocol})`, async () => {
      reset()
      const { event, expected } = makeBatch(1200, `P${protocol}-`)
      const { bridge } = bridgeFor(broker.url, { MQTT_PROTOCOL_VERSION: protocol })
      try {
        const summary = await bridge.handle(Buffer.from(JSON.stringify(event)), context(`req-${protocol}`))
        assert.equal(summary.received, 1200)
        assert.equal(summary.published, 1200)
        assert.equal(summary.deadLettered, 0)
        assert.equal(summary.failed, 0)
        assert.deepEqual(summary.rules, { commands: 400, telemetry: 400, firmware: 400 })
        assert.ok(summary.lagMs !== null && summary.lagMs >= 0)
        // On a 3.1.1 connection the MQTT 5 property sets are dropped and counted, not an error.
        const withProps = expected.filter((e) => Object.keys(e.v5).length > 0).length
        assert.equal(summary.droppedV5Properties, protocol === '4' ? withProps : 0)
        // Exact counts only once a sentinel behind every topic and QoS is in: no straggler can follow.
        await settle(bridge, [sub5, sub4], expected)
        const got5 = withoutSentinels(sub5.messages)
        assert.equal(new Set(got5.map((m) => m.topic)).size, 60, 'topics received')
        assert.deepEqual(new Set(got5.map((m) => m.qos)), new Set([0, 1, 2]), 'QoS levels received')
        assertDelivered(protocol === '4' ? expected.map((e) => ({ ...e, v5: {} })) : expected, got5, 5)
        assertDelivered(expected, withoutSentinels(sub4.messages), 4)
      } finally {
        await bridge.close()
      }
    })
  }

  test('poison messages in the middle of a batch go to the dead letters with a reason; all others are delivered', async () => {
    reset()
    const { event, expected } = makeBatch(60, 'POISON-')
    const bad = [
      {
        at: 10,
        entry: cloudEvent(10, {
          topic: 'device-commands',
          userProperties: { mqttSecondTopic: '/a', qoslevel: '3' },
          body: 'x',
          uniq: 'BAD-QOS',
        }),
        reason: /qoslevel: must be 0, 1 or 2, got "3"/,
      },
      {
        at: 20,
        entry: cloudEvent(20, { topic: 'firmware', userProperties: {}, body: 'not base64!', uniq: 'BAD-B64' }),
        reason: /body: rule "firmware" declares base64/,
      },
      {
        at: 30,
        entry: cloudEvent(30, { topic: 'device-commands', userProperties: { mqttSecondTopic: '/a/+/b' }, body: 'x', uniq: 'BAD-TOPIC' }),
        reason: /mqttSecondTopic: topic contains a wildcard/,
      },
      { at: 40, entry: { specversion: '1.0', id: 'no-data' }, reason: /\[\d+\]\.data: must be an object/ },
      {
        at: 50,
        entry: cloudEvent(50, { topic: 'telemetry', userProperties: {}, body: 'x', tags: 'TagC', uniq: 'BAD-TAG' }),
        reason: /tag "TagC" is not accepted by rule "telemetry"/,
      },
    ]
    const batch = [...event]
    for (const b of [...bad].reverse()) batch.splice(b.at, 0, b.entry)
    const { bridge, deadLetters } = bridgeFor(broker.url)
    try {
      const ctx = context('req-poison')
      const summary = await bridge.handle(batch, ctx)
      const logged = logEvents(ctx, 'bridge.dead-letter')
      assert.equal(logged.length, 5, 'one log line per dead letter')
      assert.deepEqual(
        logged.map((l) => l['messageId']),
        ['BAD-QOS', 'BAD-B64', 'BAD-TOPIC', 'no-data', 'BAD-TAG'],
      )
      assert.equal(logEvents(ctx, 'bridge.invocation')[0]!['deadLettered'], 5)
      assert.equal(summary.received, 65)
      assert.equal(summary.published, 60)
      assert.equal(summary.deadLettered, 5)
      await settle(bridge, [sub5], expected)
      assertDelivered(expected, withoutSentinels(sub5.messages), 5)
      const stored = await readDeadLetters(deadLetters)
      assert.equal(stored.length, 5)
      bad.forEach((b, k) => {
        assert.match(stored[k]!.reason, b.reason)
        assert.deepEqual(stored[k]!.event, b.entry, 'the original entry is stored verbatim')
        assert.equal(stored[k]!.requestId, 'req-poison')
      })
      assert.equal(stored[0]!.ruleId, 'commands')
      assert.equal(stored[0]!.messageId, 'BAD-QOS')
    } finally {
      await bridge.close()
    }
  })

  test('a retried batch is not published again by the same warm instance', async () => {
    reset()
    const { event, expected } = makeBatch(30, 'RETRY-')
    const { bridge } = bridgeFor(broker.url)
    try {
      const first = await bridge.handle(event, context('req-a'))
      const second = await bridge.handle(event, context('req-b'))
      assert.equal(first.published, 30)
      assert.equal(second.published, 0)
      assert.equal(second.duplicates, 30)
      // The sentinels follow both invocations on every topic and QoS: a copy sent by the second would be in.
      await settle(bridge, [sub5], expected)
      assertDelivered(expected, withoutSentinels(sub5.messages), 5)
    } finally {
      await bridge.close()
    }
  })

  test('a body that is not JSON at all becomes one dead letter holding the raw text', async () => {
    const { bridge, deadLetters } = bridgeFor(broker.url)
    try {
      const summary = await bridge.handle(Buffer.from('this is {not json'), context('req-text'))
      assert.deepEqual([summary.received, summary.published, summary.deadLettered], [1, 0, 1])
      const [entry] = await readDeadLetters(deadLetters)
      assert.equal(entry!.event, 'this is {not json')
      assert.match(entry!.reason, /event is not JSON/)
    } finally {
      await bridge.close()
    }
  })

  test('an unwritable dead-letter target fails the invocation, after delivering the good messages', async () => {
    reset()
    const file = join(mkdtempSync(join(tmpdir(), 'dl-')), 'a-file')
    writeFileSync(file, '')
    const config = loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${file}/sub`, LOG_LEVEL: 'error' })
    const bridge = new Bridge(config, rules)
    const { event, expected } = makeBatch(6, 'DLFAIL-')
    event.splice(3, 0, cloudEvent(99, { topic: 'device-commands', userProperties: { qoslevel: 'one' }, body: 'x' }))
    try {
      await assert.rejects(bridge.handle(event, context('req-dlfail')), (err: Error) => {
        assert.equal(err.name, 'DeadLetterError')
        assert.match(err.message, /could not hand 1 dead letter to file:.*a-file\/sub/)
        return true
      })
      await settle(bridge, [sub5], expected)
      assertDelivered(expected, withoutSentinels(sub5.messages), 5)
    } finally {
      await bridge.close()
    }
  })
})

describe('broker unreachable', needsMosquitto(), () => {
  test('the invocation throws within the bound, saying so; once the broker is back, the same event is delivered', async () => {
    const port = await freePort()
    const url = `mqtt://127.0.0.1:${port}`
    const { event, expected } = makeBatch(90, 'DOWN-')
    const { bridge } = bridgeFor(url, { MQTT_PUBLISH_TIMEOUT_MS: '1000' })
    let broker: Broker | undefined
    let sub: Subscriber | undefined
    try {
      const ctx = context('req-down', 5)
      await assert.rejects(bridge.handle(event, ctx), (err: Error) => {
        assert.ok(err instanceof DeliveryError)
        assert.match(
          err.message,
          /^90 of 90 messages not delivered: 90 × cannot reach the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
        )
        assert.match(err.message, /Function Compute retries it/)
        return true
      })
      // That it gives up within the deadline, whatever the broker does, is counted on a fake clock
      // (test/unit/mqtt/connection.test.ts, "a refused CONNECT and an exhausted deadline").
      // One line per failure up to a cap, then one line that sums up the rest; one invocation line.
      const failures = logEvents(ctx, 'bridge.failure')
      assert.equal(failures.length, 21)
      assert.equal(failures[20]!['more'], 70)
      assert.equal(logEvents(ctx, 'bridge.invocation')[0]!['outcome'], 'retry')

      broker = await startMosquitto({ port })
      sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
      const summary = await bridge.handle(event, context('req-up'))
      assert.equal(summary.published, 90)
      await settle(bridge, [sub], expected)
      assertDelivered(expected, withoutSentinels(sub.messages), 5)
    } finally {
      await bridge.close()
      await sub?.close()
      await broker?.stop()
    }
  })

  test('a broker that accepts TCP but never answers: the invocation fails within MQTT_PUBLISH_TIMEOUT_MS', async () => {
    const sockets = new Set<Socket>()
    const silent = createServer((s) => sockets.add(s))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
    const port = (silent.address() as { port: number }).port
    const { bridge } = bridgeFor(`mqtt://127.0.0.1:${port}`, { MQTT_PUBLISH_TIMEOUT_MS: '800' })
    try {
      // The reason names the bound that ended it: MQTT_PUBLISH_TIMEOUT_MS, not the function's 30 s.
      await assert.rejects(
        bridge.handle(makeBatch(5, 'SILENT-').event, context('req-silent', 30)),
        /5 of 5 messages not delivered.*no CONNACK from the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ within 800 ms/,
      )
    } finally {
      await bridge.close()
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })
})
