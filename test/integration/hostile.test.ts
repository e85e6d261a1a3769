// The hostile corpus (test/fixtures/hostile-corpus.ts) through the bridge on a real broker: each case
// is a dead letter with a specific reason, and every good message around it is delivered.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { HOSTILE } from '../fixtures/hostile-corpus.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { cloudEvent, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))
let broker: Broker
let sub: Subscriber

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

describe('hostile corpus', () => {
  test('has at least 40 cases', () => assert.ok(HOSTILE.length >= 40, String(HOSTILE.length)))

  HOSTILE.forEach((c, n) => {
    test(c.name, async () => {
      const tag = `H${n}`
      const before = sub.messages.length
      const { b, dir } = bridge()
      try {
        const summary = await b.handle(c.event(tag), fcContext(`req-${tag}`))
        assert.equal(summary.published, c.published, 'published')
        assert.equal(summary.deadLettered, c.deadLettered, 'dead-lettered')
        assert.equal(summary.duplicates, c.duplicates ?? 0, 'duplicates')
        const stored = await readDeadLetters(dir)
        assert.equal(stored.length, c.deadLettered)
        c.reasons.forEach((reason, k) => {
          assert.match(stored[k]!.reason, reason)
          assert.notEqual(stored[k]!.event, undefined, 'the original is kept')
        })
        await sub.waitFor(before + c.published)
        const mine = sub.messages.slice(before).filter((m) => m.payload.toString().startsWith(`good-${tag}-`))
        assert.equal(mine.length, c.published, 'every good message around the bad one is delivered')
      } finally {
        await b.close()
      }
    })
  })
})

test('a batch of 10,000 mixed good and bad messages: every good one is delivered, every bad one is a dead letter', async () => {
  // Cases built from raw bytes only exist as bytes, and a repeated ID is bad only beside its twin:
  // the other entry-level cases mix into one JSON batch.
  const entryCases = HOSTILE.filter(
    (c) => c.published === 2 && c.deadLettered === 1 && !Buffer.isBuffer(c.event('probe')) && !c.name.startsWith('a message ID repeated'),
  )
  const batch: unknown[] = []
  let goodCount = 0
  for (let i = 0; i < 10_000; i++) {
    if (i % 10 === 5) {
      // The bad entry of a rotating corpus case, with its own message ID.
      const c = entryCases[i % entryCases.length]!
      batch.push((c.event(`MIX${i}`) as unknown[])[1])
    } else {
      goodCount++
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
    assert.equal(summary.published, goodCount)
    assert.equal(summary.deadLettered, 10_000 - goodCount)
    await sub.waitFor(before + goodCount, 30000)
    const got = new Set(sub.messages.slice(before).map((m) => m.payload.toString()))
    for (let i = 0; i < 10_000; i++) if (i % 10 !== 5) assert.ok(got.has(`mixed-${i}`), `mixed-${i} delivered`)
    const stored = await readDeadLetters(dir)
    assert.equal(stored.length, 10_000 - goodCount)
    for (const e of stored) assert.ok(e.reason.length > 10)
  } finally {
    await b.close()
  }
})

test('an entry nested 300,000 deep is a dead letter, stored as a description, and never blocks the batch', async () => {
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
      /\[1\]: must be an object with topic and body; the entry \(array\) cannot be stored verbatim: Maximum call stack size exceeded/,
    )
    assert.deepEqual(entry!.event, { unstorable: true, kind: 'array', error: 'Maximum call stack size exceeded' })
    await sub.waitFor(before + 1)
  } finally {
    await b.close()
  }
})
