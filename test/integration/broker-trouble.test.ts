// A broker's trouble is never a message's fault (docs/reliability.md, "Brokers that drop connections for their
// own reasons"). Against small faulty brokers (test/helpers/faulty-brokers.ts) and a real Mosquitto whose
// session is taken over, the bridge dead-letters nothing as poison: the invocation fails as transient, and a
// retry delivers, within at most 3 invocations, once the broker behaves. A real poison message among the same
// traffic is still singled out and its siblings delivered; ordered groups sharing a topic, one of whose
// messages is never acknowledged, do not hold each other up.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { connectAsync } from 'mqtt'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { startMosquitto } from '../helpers/broker.js'
import {
  behaves,
  closesEveryNth,
  closesOnEveryPublish,
  type FaultyBroker,
  neverAcknowledges,
  poisonedBy,
  startFaultyBroker,
} from '../helpers/faulty-brokers.js'
import { fcContext, logEvents, type TestContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, commands, ORDERED_RULES, SCENARIO_RULES } from '../helpers/scenario.js'
import { subscribe } from '../helpers/subscriber.js'

const bodies = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}-${i}`)

function bridgeOn(url: string, env: Record<string, string> = {}, rules = SCENARIO_RULES): Bridge {
  const dl = mkdtempSync(join(tmpdir(), 'dl-trouble-'))
  const config = loadConfig({ MQTT_URL: url, DEAD_LETTER_TARGET: `file:${dl}`, MQTT_PUBLISH_TIMEOUT_MS: '2000', ...env })
  return new Bridge(
    config,
    loadRuleSet(undefined, () => ({ text: rules, origin: 'broker trouble' })),
  )
}

interface Invocation {
  ctx: TestContext
  error?: unknown
  /** The bridge.invocation log line: the counts, thrown or not. */
  counts: { published: number; deadLettered: number; failed: number; duplicates: number }
  /** The dead letters' reasons, by batch position. */
  deadLetters: Map<number, string>
}

async function invoke(bridge: Bridge, event: unknown[], requestId: string): Promise<Invocation> {
  const ctx = fcContext(requestId, 30)
  const error = await bridge.handle(event, ctx).then(
    () => undefined,
    (err: unknown) => err,
  )
  const line = logEvents(ctx, 'bridge.invocation')[0]!
  const counts = { published: 0, deadLettered: 0, failed: 0, duplicates: 0 }
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = Number(line[k])
  const deadLetters = new Map(logEvents(ctx, 'bridge.dead-letter').map((d) => [d['index'] as number, String(d['reason'])]))
  return { ctx, ...(error === undefined ? {} : { error }), counts, deadLetters }
}

/** The same event until an invocation succeeds, at most `max` times; every invocation's record. */
async function untilDelivered(bridge: Bridge, event: unknown[], tag: string, max = 3): Promise<Invocation[]> {
  const runs: Invocation[] = []
  for (let n = 1; n <= max; n++) {
    const run = await invoke(bridge, event, `req-${tag}-${n}`)
    runs.push(run)
    if (run.error === undefined) return runs
    assert.ok(run.error instanceof DeliveryError, `invocation ${n} failed with ${String(run.error)}`)
  }
  assert.fail(`not delivered within ${max} invocations: ${runs.map((r) => String(r.error)).join(' | ')}`)
}

/** Each payload the broker acknowledged, once, in order of first acknowledgement. */
const firstAcknowledged = (broker: FaultyBroker) => [...new Set(broker.acknowledged)]

describe('brokers that drop connections for their own reasons (small faulty brokers)', () => {
  const brokers: FaultyBroker[] = []
  const bridges: Bridge[] = []
  after(async () => {
    for (const b of bridges) await b.close()
    for (const b of brokers) await b.close()
  })
  async function setUp(behaviour: Parameters<typeof startFaultyBroker>[0], env: Record<string, string> = {}, rules?: string) {
    const broker = await startFaultyBroker(behaviour)
    brokers.push(broker)
    const bridge = bridgeOn(broker.url, env, rules)
    bridges.push(bridge)
    return { broker, bridge }
  }

  for (const version of ['4', '5'] as const) {
    test(`MQTT ${version === '5' ? '5' : '3.1.1'}: a broker that closes on every PUBLISH: nothing dead-lettered, the invocation fails as transient, saying why; once it behaves, the retry delivers`, async () => {
      const { broker, bridge } = await setUp(closesOnEveryPublish, { MQTT_PROTOCOL_VERSION: version })
      const event = commands(`every${version}`, 10)
      const first = await invoke(bridge, event, `req-every${version}`)
      assert.ok(first.error instanceof DeliveryError, String(first.error))
      assert.deepEqual(first.counts, { published: 0, deadLettered: 0, failed: 10, duplicates: 0 })
      assert.match(
        first.error.message,
        /was lost whatever was written: \d+ times in a row with nothing acknowledged.*the broker's trouble, not this message's/,
      )
      const trouble = logEvents(first.ctx, 'mqtt.broker-trouble')
      assert.equal(trouble.length, 1)
      assert.deepEqual([trouble[0]!['verdict'], trouble[0]!['failed']], ['transient', 10])
      assert.ok(broker.connections <= 4, `${broker.connections} connections for one batch`)

      broker.behaviour = behaves
      const retry = await invoke(bridge, event, `req-every${version}-retry`)
      assert.equal(retry.error, undefined)
      assert.deepEqual(retry.counts, { published: 10, deadLettered: 0, failed: 0, duplicates: 0 })
      assert.deepEqual(firstAcknowledged(broker).sort(), bodies(`every${version}`, 10).sort())
    })
  }

  for (const version of ['4', '5'] as const) {
    test(`MQTT ${version === '5' ? '5' : '3.1.1'}: a broker that closes after every 3rd PUBLISH, whatever it holds: nothing dead-lettered; delivered within 3 invocations`, async () => {
      const { broker, bridge } = await setUp(closesEveryNth(3), { MQTT_PROTOCOL_VERSION: version })
      const event = commands(`nth${version}`, 30)
      const runs = await untilDelivered(bridge, event, `nth${version}`)
      assert.deepEqual(
        runs.map((r) => r.counts.deadLettered),
        runs.map(() => 0),
      )
      assert.equal(
        runs.reduce((n, r) => n + r.counts.published, 0),
        30,
      )
      assert.deepEqual(firstAcknowledged(broker).sort(), bodies(`nth${version}`, 30).sort())
    })
  }

  test('a real poison message on a broker that also closes after every 5th PUBLISH: singled out by its neighbours; its 29 siblings delivered', async () => {
    const { broker, bridge } = await setUp(poisonedBy('pz-7', closesEveryNth(5)), { MQTT_PROTOCOL_VERSION: '4' })
    const event = commands('pz', 30)
    const runs = await untilDelivered(bridge, event, 'pz')
    const dead = runs.flatMap((r) => [...r.deadLetters])
    assert.equal(dead.length, 1)
    assert.equal(dead[0]![0], 7)
    assert.match(
      dead[0]![1],
      /closed the connection each time this message was sent alone, 2 times .*, while the messages? written (before|after|before and after) (it|them) (was|were) acknowledged/,
    )
    assert.deepEqual(
      firstAcknowledged(broker).sort(),
      bodies('pz', 30)
        .filter((b) => b !== 'pz-7')
        .sort(),
    )
  })

  test('ordered groups on one topic, one message never acknowledged: its group stops, the others are delivered in order; the retry delivers the rest of it in order', async () => {
    const { broker, bridge } = await setUp(
      neverAcknowledges('S:a:3'),
      { MQTT_PROTOCOL_VERSION: '5', MQTT_PUBLISH_TIMEOUT_MS: '800' },
      ORDERED_RULES,
    )
    const specs: Array<{ group: string; seq: number }> = []
    for (let seq = 0; seq < 10; seq++) for (const group of ['a', 'b', 'c']) specs.push({ group, seq })
    const event = specs.map((s, i) => {
      const ev = cloudEvent(i, {
        topic: 'order-updates',
        userProperties: { mqttSecondTopic: '/shared' },
        body: `S:${s.group}:${s.seq}`,
        uniq: `S-${s.group}-${s.seq}`,
      }) as { data: { systemProperties: Record<string, unknown> } }
      ev.data.systemProperties['__SHARDINGKEY'] = `S-${s.group}`
      return ev
    })
    const inOrder = (group: string) =>
      firstAcknowledged(broker)
        .filter((p) => p.startsWith(`S:${group}:`))
        .map((p) => Number(p.split(':')[2]))

    const first = await invoke(bridge, event, 'req-groups')
    assert.ok(first.error instanceof DeliveryError, String(first.error))
    assert.deepEqual([first.counts.published, first.counts.failed, first.counts.deadLettered], [23, 7, 0])
    assert.deepEqual(inOrder('a'), [0, 1, 2])
    assert.deepEqual(inOrder('b'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepEqual(inOrder('c'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.ok(!broker.received.some((r) => r.payload === 'S:a:4'), "a's later messages were never written")

    broker.behaviour = behaves
    const retry = await invoke(bridge, event, 'req-groups-retry')
    assert.equal(retry.error, undefined)
    assert.deepEqual([retry.counts.published, retry.counts.duplicates], [7, 23])
    assert.deepEqual(inOrder('a'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })
})

describe('a session taken over on Mosquitto (a second client with the bridge’s client ID)', needsMosquitto(), () => {
  for (const version of ['5', '4'] as const) {
    test(`MQTT ${version === '5' ? '5' : '3.1.1'}: nothing dead-lettered; the batch is delivered within 3 invocations`, async () => {
      const broker = await startMosquitto()
      const sub = await subscribe(broker.url, ['devices/#'], 5)
      // Paced, so that the batch is still being written when the other client connects.
      const bridge = bridgeOn(broker.url, { MQTT_PROTOCOL_VERSION: version, MQTT_RATE_LIMIT: '2000' })
      const tag = `take${version}`
      const count = 3000
      const event = commands(tag, count)
      const mine = (m: { payload: Buffer }) => m.payload.toString().startsWith(`${tag}-`)
      try {
        const first = invoke(bridge, event, `req-${tag}`)
        await sub.waitUntil((got) => got.filter(mine).length >= 200, 20_000, '200 messages of the batch')
        // Mosquitto closes the older connection of a client ID, the bridge's (2.0.11 sends no DISCONNECT 0x8E,
        // on MQTT 5 either: the bridge sees a close without a reason, which blames nothing by itself).
        const other = await connectAsync(broker.url, {
          clientId: bridge.pool.clientIds[0]!,
          protocolVersion: Number(version) as 4 | 5,
          reconnectPeriod: 20,
        })
        other.on('error', () => {})
        const run = await first
        assert.equal(run.counts.deadLettered, 0)
        assert.ok(run.error === undefined || run.error instanceof DeliveryError, String(run.error))
        assert.ok(bridge.pool.connectionsOpened >= 2, 'the connection was taken over mid-batch, and reopened')
        await other.endAsync(true)
        const runs = run.error === undefined ? [] : await untilDelivered(bridge, event, `${tag}-retry`, 2)
        assert.deepEqual(
          runs.map((r) => r.counts.deadLettered),
          runs.map(() => 0),
        )
        await sub.waitUntil((got) => new Set(got.filter(mine).map((m) => m.payload.toString())).size === count, 20_000, `all ${count}`)
      } finally {
        await bridge.close()
        await sub.close()
        await broker.stop()
      }
    })
  }
})
