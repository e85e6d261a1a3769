// Delivery deadlines on a real Mosquitto, MQTT 5 and 3.1.1 (docs/rules.md, "Delivery deadlines"): fresh
// messages delivered, on MQTT 5 with an expiry interval capped to the time left; old ones expired by the
// event's time and by deadlineFrom (epoch milliseconds and ISO 8601), counted once as expired and stored
// with failure "expired" and their age, or with `drop` only counted and logged; and a persistent offline
// MQTT 5 session that does not receive a message after its deadline.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect, connectAsync } from 'mqtt'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, type SentinelSender, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, INSTANCE } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: commands, groupId: GID_test_commands }
    target: { parentTopic: doors, deadline: 1m, deadlineFrom: userProperties.sentAt }
  - id: telemetry
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: telemetry, groupId: GID_test_telemetry }
    target: { parentTopic: meters, deadline: 30s, onExpired: drop }
  - id: plain
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: plain, groupId: GID_test_plain }
    target: { parentTopic: plain }
`

const SECOND = 1000
/** A CloudEvent for `topic` whose time is `ageMs` ago. */
function aged(i: number, topic: string, sub: string, ageMs: number, userProperties: Record<string, string> = {}, uniq = `${topic}-${i}`) {
  const e = cloudEvent(i, { topic, userProperties: { mqttSecondTopic: sub, ...userProperties }, body: uniq, uniq })
  e['time'] = new Date(Date.now() - ageMs).toISOString()
  return e
}

for (const version of [5, 4] as const) {
  const label = version === 5 ? 'MQTT 5' : 'MQTT 3.1.1'
  describe(`delivery deadlines on Mosquitto, ${label}`, needsMosquitto(), () => {
    let broker: Broker
    let sub: Subscriber
    let bridge: Bridge
    let deadLetters: string
    const sentinels: SentinelSender = async (list) => {
      const event = list.map((s, i) =>
        cloudEvent(i, {
          topic: 'plain',
          userProperties: { mqttSecondTopic: s.topic.slice('plain'.length) },
          body: s.payload,
          uniq: s.payload,
        }),
      )
      const summary = await bridge.handle(event, fcContext('req-sentinels'))
      if (summary.published !== list.length) throw new Error(`published ${summary.published} of ${list.length} sentinels`)
    }

    before(async () => {
      broker = await startMosquitto()
      sub = await subscribe(broker.url, ['doors/#', 'meters/#', 'plain/#'], version)
      deadLetters = mkdtempSync(join(tmpdir(), 'dl-deadlines-'))
      const config = loadConfig({
        MQTT_URL: broker.url,
        DEAD_LETTER_TARGET: `file:${deadLetters}`,
        MQTT_PROTOCOL_VERSION: String(version),
      })
      bridge = new Bridge(
        config,
        loadRuleSet(undefined, () => ({ text: RULES, origin: 'deadlines test' })),
      )
    })
    after(async () => {
      await bridge?.close()
      await sub?.close()
      await broker?.stop()
    })

    test('fresh messages delivered (capped expiry on MQTT 5); old ones expired by event time and by deadlineFrom, counted once and kept as the rule says', async () => {
      const now = Date.now()
      const event = [
        aged(0, 'commands', '/d1', 0, { sentAt: String(now - 10 * SECOND) }, 'FRESH-EPOCH'),
        aged(1, 'commands', '/d2', 0, { sentAt: new Date(now - 20 * SECOND).toISOString().replace('Z', '+00:00') }, 'FRESH-ISO'),
        aged(2, 'commands', '/d3', 0, { sentAt: String(now - 2 * 60 * SECOND) }, 'OLD-EPOCH'),
        aged(3, 'commands', '/d4', 0, { sentAt: new Date(now - 3 * 60 * SECOND).toISOString() }, 'OLD-ISO'),
        aged(4, 'commands', '/d5', 5 * 60 * SECOND, {}, 'OLD-EVENT-TIME'),
        aged(5, 'telemetry', '/m1', 5 * SECOND, {}, 'FRESH-METER'),
        aged(6, 'telemetry', '/m2', 45 * SECOND, {}, 'OLD-METER'),
      ]
      const ctx = fcContext(`req-deadlines-${version}`)
      const summary = await bridge.handle(event, ctx)
      assert.deepEqual([summary.received, summary.published, summary.expired, summary.deadLettered, summary.failed], [7, 3, 4, 0, 0])
      assert.equal(
        summary.received,
        summary.published + summary.deadLettered + summary.duplicates + summary.filtered + summary.expired + summary.failed,
      )

      await barrier(sentinels, [sub], [{ topic: 'plain/barrier', qos: 1 }])
      const got = withoutSentinels(sub.messages)
      assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['FRESH-EPOCH', 'FRESH-ISO', 'FRESH-METER'])
      const expiry = Object.fromEntries(got.map((m) => [m.payload.toString(), m.messageExpiryInterval]))
      if (version === 5) {
        // At most the time left, rounded up: 60 − 10, 60 − 20 and 30 − 5 seconds, less the time this took.
        for (const [name, most] of [
          ['FRESH-EPOCH', 50],
          ['FRESH-ISO', 40],
          ['FRESH-METER', 25],
        ] as const) {
          const v = expiry[name]
          assert.ok(v !== undefined && v >= 1 && v <= most, `${name}: expiry ${v}, at most ${most}`)
        }
      } else assert.deepEqual(Object.values(expiry), [undefined, undefined, undefined])

      // Kept: the commands (onExpired: dead-letter) with their age; the meter (drop) only counted and logged.
      const stored = await readDeadLetters(deadLetters)
      const mine = stored.filter((d) => d.requestId === `req-deadlines-${version}`)
      assert.deepEqual(mine.map((d) => d.messageId).sort(), ['OLD-EPOCH', 'OLD-EVENT-TIME', 'OLD-ISO'])
      for (const d of mine) {
        assert.equal(d.failure, 'expired', d.messageId)
        assert.match(
          d.reason,
          /^expired: \d+m( \d+s)? old \(counted from (userProperties\.sentAt|time)\), past its deadline of 1m; not published$/,
        )
      }
      assert.deepEqual(logEvents(ctx, 'bridge.expired'), [
        { event: 'bridge.expired', requestId: `req-deadlines-${version}`, expired: 4, rules: { commands: 3, telemetry: 1 } },
      ])
      const dropped = logEvents(ctx, 'bridge.expired-message').filter((l) => l['kept'] === 'dropped')
      assert.deepEqual(
        dropped.map((l) => [l['messageId'], l['deadline'], l['from']]),
        [['OLD-METER', '30s', 'time']],
      )
      assert.ok((dropped[0]!['ageMs'] as number) >= 45 * SECOND)
      assert.equal(logEvents(ctx, 'bridge.invocation')[0]!['expired'], 4)

      // Function Compute's retry of the same batch is judged again: the delivered ones are duplicates, the rest still expired.
      const again = await bridge.handle(event, fcContext(`req-deadlines-retry-${version}`))
      assert.deepEqual([again.published, again.duplicates, again.expired], [0, 3, 4])
    })
  })
}

describe('a persistent offline MQTT 5 session and a deadline', needsMosquitto(), () => {
  let broker: Broker
  let bridge: Bridge

  before(async () => {
    broker = await startMosquitto()
    const config = loadConfig({
      MQTT_URL: broker.url,
      DEAD_LETTER_TARGET: `file:${mkdtempSync(join(tmpdir(), 'dl-offline-'))}`,
      MQTT_PROTOCOL_VERSION: '5',
    })
    bridge = new Bridge(
      config,
      loadRuleSet(undefined, () => ({ text: RULES, origin: 'deadlines test' })),
    )
  })
  after(async () => {
    await bridge?.close()
    await broker?.stop()
  })

  test('a device offline past the deadline never receives the message; one under a later deadline, queued beside it, arrives', async () => {
    const clientId = `test-offline-${Math.random().toString(36).slice(2, 10)}`
    const session = { clientId, clean: false, protocolVersion: 5 as const, reconnectPeriod: 0, properties: { sessionExpiryInterval: 600 } }
    const device = await connectAsync(broker.url, session)
    await device.subscribeAsync(['doors/#', 'plain/#'], { qos: 1 })
    await device.endAsync()

    // 58 s of a 1 m deadline gone: the broker may keep it 2 s at most. The plain one has no deadline.
    const sentAt = Date.now() - 58 * SECOND
    const summary = await bridge.handle(
      [
        aged(0, 'commands', '/offline', 0, { sentAt: String(sentAt) }, 'STALE-BY-RECONNECT'),
        cloudEvent(1, { topic: 'plain', userProperties: { mqttSecondTopic: '/offline' }, body: 'STILL-WANTED', uniq: 'STILL-WANTED' }),
      ],
      fcContext('req-offline'),
    )
    assert.deepEqual([summary.published, summary.expired], [2, 0])
    // The broker's own clock must pass the deadline: no barrier can stand in for the time a device is away.
    while (Date.now() < sentAt + 60 * SECOND + 1100) await new Promise((r) => setTimeout(r, 100))

    const arrived: string[] = []
    // The listener before the connection: a session's queue comes right behind the CONNACK.
    const back = connect(broker.url, session)
    try {
      // Mosquitto sends a session's queue in order: had the stale one been kept, it would come first.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the queued message did not arrive; got ${JSON.stringify(arrived)}`)), 20_000)
        back.on('message', (_topic, payload) => {
          arrived.push(payload.toString())
          if (payload.toString() === 'STILL-WANTED') {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      assert.deepEqual(arrived, ['STILL-WANTED'])
    } finally {
      await back.endAsync()
    }
  })
})
