// A rate-limited batch is read, planned and published in slices (shared/bridge/bridge.ts, plan.ts slices): at
// MQTT_RATE_LIMIT=1000 on one connection, 300 entries make slices of 64 (25 ms of the rate, at least 64), each
// read and planned while the one before is published. Across slices the batch behaves as one: per-topic
// order, in-batch duplicates and reused IDs found wherever they fall, poison entries at their places, one
// record per message; once a slice fails, the later ones fail unsent and the retry delivers them.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { startMosquitto } from '../helpers/broker.js'
import { behaves, closesOnEveryPublish, startFaultyBroker } from '../helpers/faulty-brokers.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, SCENARIO_RULES } from '../helpers/scenario.js'
import { subscribe } from '../helpers/subscriber.js'

const COUNT = 300
/** Bridge.slices at 1,000 msg/s on one connection: 25 ms of the rate, at least 64. */
const FIRST_SLICE = 64

/** `COUNT` QoS 1 commands over 4 topics, body `<tag>-<i>`; `same` maps a position to the one whose ID (and body, unless `changed`) it repeats. */
function commands(tag: string, same: Map<number, { of: number; changed?: boolean }> = new Map()): unknown[] {
  return Array.from({ length: COUNT }, (_, i) => {
    const repeat = same.get(i)
    const j = repeat?.of ?? i
    return cloudEvent(i, {
      topic: 'device-commands',
      userProperties: { mqttSecondTopic: `/${tag}/t${j % 4}`, qoslevel: '1' },
      body: repeat?.changed ? `${tag}-${i}-changed` : `${tag}-${j}`,
      uniq: `${tag}-${j}`,
    })
  })
}

function bridgeOn(url: string): Bridge {
  const dl = mkdtempSync(join(tmpdir(), 'dl-slices-'))
  const config = loadConfig({ MQTT_URL: url, DEAD_LETTER_TARGET: `file:${dl}`, MQTT_RATE_LIMIT: '1000', MQTT_PUBLISH_TIMEOUT_MS: '2000' })
  return new Bridge(
    config,
    loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'slices' })),
  )
}

describe('a rate-limited batch, planned in slices', needsMosquitto(), () => {
  test('order per topic, in-batch duplicates and a reused ID in later slices, one record per message', async () => {
    const broker = await startMosquitto()
    const sub = await subscribe(broker.url, ['devices/#'], 5)
    const bridge = bridgeOn(broker.url)
    // 200 repeats 5 (a duplicate, two slices later); 250 reuses 7's ID with other content (poison); 150 is no
    // message at all (poison, read in its own slice).
    const event = commands(
      'slice',
      new Map([
        [200, { of: 5 }],
        [250, { of: 7, changed: true }],
      ]),
    )
    event[150] = { specversion: '1.0', id: 'not-a-message', data: { body: 'no topic' } }
    try {
      const ctx = fcContext('req-slices')
      const summary = await bridge.handle(event, ctx)
      assert.deepEqual([summary.published, summary.duplicates, summary.deadLettered], [COUNT - 3, 1, 2])
      const dead = logEvents(ctx, 'bridge.dead-letter')
      assert.deepEqual(
        dead.map((d) => d['index']),
        [150, 250],
      )
      assert.match(String(dead[0]!['reason']), /^\[150\]\.data\.topic/)
      assert.match(String(dead[1]!['reason']), /appears twice in this batch with different content \(first at position 7\)/)
      await sub.waitFor(COUNT - 3)
      const expected = Array.from({ length: COUNT }, (_, i) => i).filter((i) => i !== 150 && i !== 200 && i !== 250)
      for (let t = 0; t < 4; t++) {
        const got = sub.messages.filter((m) => m.topic === `devices/slice/t${t}`).map((m) => m.payload.toString())
        const want = expected.filter((i) => i % 4 === t).map((i) => `slice-${i}`)
        assert.deepEqual(got, want, `topic t${t} in batch order`)
      }
    } finally {
      await bridge.close()
      await sub.close()
      await broker.stop()
    }
  })

  test('a broker in trouble during the first slice: the later slices fail unsent, nothing dead-lettered; the retry delivers all', async () => {
    const broker = await startFaultyBroker(closesOnEveryPublish)
    const bridge = bridgeOn(broker.url)
    const event = commands('trouble')
    try {
      const ctx = fcContext('req-slices-trouble')
      const error = await bridge.handle(event, ctx).then(
        () => undefined,
        (err: unknown) => err,
      )
      assert.ok(error instanceof DeliveryError, String(error))
      const line = logEvents(ctx, 'bridge.invocation')[0]!
      assert.deepEqual([line['failed'], line['published'], line['deadLettered']], [COUNT, 0, 0])
      // Only the first slice was ever written, and the broker's trouble was judged once.
      const written = new Set(broker.received.map((r) => Number(r.payload.split('-')[1])))
      assert.ok(written.size > 0)
      for (const i of written) assert.ok(i < FIRST_SLICE, `message ${i} of a later slice was written`)
      assert.equal(logEvents(ctx, 'mqtt.broker-trouble').length, 1)

      broker.behaviour = behaves
      const retry = await bridge.handle(event, fcContext('req-slices-retry'))
      assert.equal(retry.published, COUNT)
      assert.deepEqual(
        [...new Set(broker.acknowledged)],
        Array.from({ length: COUNT }, (_, i) => `trouble-${i}`),
      )
    } finally {
      await bridge.close()
      await broker.close()
    }
  })
})
