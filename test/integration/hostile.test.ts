// The hostile corpus (test/fixtures/hostile-corpus.ts) through the bridge on a real broker: a few
// representative cases, a 10,000-message batch that mixes them all, and a 300,000-deep entry. Each bad
// entry is a dead letter with a specific reason, and every good message around it is delivered.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { goodMessage, HOSTILE } from '../fixtures/hostile-corpus.js'
import { barrier, viaBridge, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))
let broker: Broker
let sub: Subscriber

describe('hostile input on Mosquitto', needsMosquitto(), () => {
  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
  })
  after(async () => {
    await sub.close()
    await broker.stop()
  })

  function bridge(): { b: Bridge; dir: string } {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'))
    return { b: new Bridge(loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dir}` }), rules), dir }
  }

  /** Waits until everything `b` sent on these topics and QoS levels has reached the subscriber (helpers/barrier.ts). */
  const settle = (b: Bridge, lanes: Array<{ topic: string; qos: number }>) =>
    barrier(
      viaBridge((event) => b.handle(event, fcContext('req-barrier'))),
      [sub],
      lanes,
    )

  /** One of each kind: bytes that are not UTF-8, a mapping refusal, an oversized body, a repeat, a whole event that is not JSON. */
  const END_TO_END = [
    'invalid UTF-8 bytes in the body',
    'qoslevel 3',
    'a 1 MB body',
    'a message ID repeated with the same content',
    'not JSON',
  ]

  describe('hostile corpus, end to end (every case runs without a broker in test/unit/bridge/hostile-corpus.test.ts)', () => {
    for (const name of END_TO_END) {
      const c = HOSTILE.find((h) => h.name === name)!
      test(name, async () => {
        const tag = `H${HOSTILE.indexOf(c)}`
        const before = sub.messages.length
        const { b, dir } = bridge()
        try {
          const summary = await b.handle(c.event(tag), fcContext(`req-${tag}`))

          assert.equal(summary.published, c.goodAt.length, 'published')
          assert.equal(summary.deadLettered, c.deadLetters.length, 'dead-lettered')
          assert.equal(summary.duplicates, c.duplicates ?? 0, 'duplicates')
          const stored = await readDeadLetters(dir)
          assert.equal(stored.length, c.deadLetters.length)
          c.deadLetters.forEach((d, k) => {
            assert.match(stored[k]!.reason, d.reason)
            assert.notEqual(stored[k]!.event, undefined, 'the original is kept')
          })
          // Counted exactly once a sentinel behind the good messages' topic is in.
          const expected = c.goodAt.map((i) => goodMessage(tag, i))
          await settle(b, [goodMessage(tag, 0)])
          assert.deepEqual(
            withoutSentinels(sub.messages.slice(before)).map((m) => [m.topic, m.qos, m.payload.toString()]),
            expected.map((m) => [m.topic, m.qos, m.payload]),
            'exactly the good messages around the bad one, in order',
          )
        } finally {
          await b.close()
        }
      })
    }
  })

  test('a batch of 10,000 mixed good and bad messages: every good one is delivered, every bad one is a dead letter', async () => {
    // Cases built from raw bytes only exist as bytes, and a repeated ID is bad only beside its twin:
    // the other entry-level cases mix into one JSON batch.
    const entryCases = HOSTILE.filter(
      (c) =>
        c.deadLetters.length === 1 &&
        c.deadLetters[0]!.at === 1 &&
        c.goodAt.length === 2 &&
        !Buffer.isBuffer(c.event('probe')) &&
        !c.name.startsWith('a message ID repeated'),
    )
    const batch: unknown[] = []
    const good: Array<{ topic: string; qos: number; payload: string }> = []
    const bad: RegExp[] = []
    for (let i = 0; i < 10_000; i++) {
      if (i % 10 === 5) {
        // The bad entry of a rotating corpus case, with its own message ID.
        const c = entryCases[i % entryCases.length]!
        batch.push((c.event(`MIX${i}`) as unknown[])[1])
        // Parse errors name the entry's position: here i, not 1.
        bad.push(new RegExp(c.deadLetters[0]!.reason.source.replaceAll('\\[1\\]', `\\[${i}\\]`)))
      } else {
        good.push({ topic: `devices/mix/t${i % 97}`, qos: i % 3, payload: `mixed-${i}` })
        batch.push(
          cloudEvent(i, {
            topic: 'device-commands',
            userProperties: { mqttSecondTopic: `/mix/t${i % 97}`, qoslevel: String(i % 3) },
            body: `mixed-${i}`,
            uniq: `MIX-${i}`,
          }),
        )
      }
    }
    const before = sub.messages.length
    const { b, dir } = bridge()
    try {
      const summary = await b.handle(Buffer.from(JSON.stringify(batch)), fcContext('req-mixed', 60))
      assert.equal(summary.received, 10_000)
      assert.equal(summary.published, good.length)
      assert.equal(summary.deadLettered, bad.length)
      await settle(b, good)
      // Per topic and QoS, every good message once, in batch order, and nothing else.
      const lanes = (ms: Array<{ topic: string; qos: number; payload: string }>) => {
        const by: Record<string, string[]> = {}
        for (const m of ms) {
          const lane = `${m.topic} QoS ${m.qos}`
          by[lane] = [...(by[lane] ?? []), m.payload]
        }
        return by
      }
      const got = withoutSentinels(sub.messages.slice(before)).map((m) => ({ topic: m.topic, qos: m.qos, payload: m.payload.toString() }))
      assert.equal(got.length, good.length)
      assert.deepEqual(lanes(got), lanes(good))
      const stored = await readDeadLetters(dir)
      assert.equal(stored.length, bad.length)
      stored.forEach((e, k) => {
        assert.match(e.reason, bad[k]!, `dead letter ${k}`)
      })
    } finally {
      await b.close()
    }
  })

  test('an entry nested 300,000 deep is a dead letter, stored as its text, and never blocks the batch', async () => {
    const deep = '['.repeat(300_000) + ']'.repeat(300_000)
    const good = cloudEvent(0, {
      topic: 'device-commands',
      userProperties: { mqttSecondTopic: '/deep/ok' },
      body: 'good-DEEP-0',
      uniq: 'DEEP-0',
    })
    const text = `[${JSON.stringify(good)},${deep}]`
    const before = sub.messages.length
    const { b, dir } = bridge()
    try {
      const summary = await b.handle(Buffer.from(text), fcContext('req-deep'))
      assert.deepEqual([summary.published, summary.deadLettered], [1, 1])
      const [entry] = await readDeadLetters(dir)
      assert.match(
        entry!.reason,
        /\[1\]: must be an object with topic and body; the entry \(array\) cannot be kept as JSON, it is nested deeper than 100 levels/,
      )
      assert.equal(entry!.event, deep, 'kept as its JSON text, whole')
      assert.equal(entry!.eventText, true)
      await settle(b, [{ topic: 'devices/deep/ok', qos: 1 }])
      assert.deepEqual(
        withoutSentinels(sub.messages.slice(before)).map((m) => [m.topic, m.payload.toString()]),
        [['devices/deep/ok', 'good-DEEP-0']],
      )
    } finally {
      await b.close()
    }
  })
})
