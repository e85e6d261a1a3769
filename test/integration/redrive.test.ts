// Redrive (shared/dead-letters/redrive.ts) through a real bridge to a real Mosquitto that goes down and
// comes back: transient entries are delivered once it is back, poison and unknown ones are left alone,
// each entry waits out its backoff, and entries past the maximum age are marked expired, not sent.
// The run's clock is given, so hours of backoff take no time; the broker and the bridge are real.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { bundledRules } from '../../functions/bridge/bundled-rules.js'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { poisonEntries } from '../../shared/dead-letters/entries.js'
import { recognise } from '../../shared/dead-letters/intake.js'
import type { StoredDeadLetter } from '../../shared/dead-letters/record.js'
import { type BridgeSender, type RedriveResult, redrive } from '../../shared/dead-letters/redrive.js'
import { appendDeadLetters, readDeadLetters } from '../../shared/dead-letters/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const HOUR = 3_600_000
const BACKOFF = 60_000
const MAX_AGE = 24 * HOUR

function cloudEvent(id: string, room: string, qoslevel = '1') {
  return {
    id: `e-${id}`,
    specversion: '1.0',
    subject: `acs:mq:cn-hangzhou:1:${INSTANCE}%TopicName`,
    time: new Date().toISOString(),
    data: {
      topic: 'TopicName',
      systemProperties: { UNIQ_KEY: id, TAGS: 'TagA' },
      userProperties: { mqttSecondTopic: `/${room}/lamp`, qoslevel },
      body: `redriven ${id}`,
    },
  }
}

/** The destination record of a failed invocation of `batch`, failed with `errorType`. */
function failed(requestId: string, batch: unknown[], errorType = 'DeliveryError'): StoredDeadLetter[] {
  const record = {
    timestamp: Date.now(),
    requestContext: { requestId, condition: 'UnhandledInvocationError', approximateInvokeCount: 4 },
    requestPayload: JSON.stringify(batch),
    responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
    responsePayload: JSON.stringify({
      errorMessage: `${batch.length} of ${batch.length} messages not acknowledged by the MQTT broker`,
      errorType,
    }),
  }
  return (recognise(Buffer.from(JSON.stringify(record)), new Date(), 'dl') as { entries: StoredDeadLetter[] }).entries
}

let broker: Broker
let sub: Subscriber
let bridge: Bridge
let bridgeStore: string
const dirs: string[] = []
const send: BridgeSender = (event, requestId) => bridge.handle(event, fcContext(requestId, 30))
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'redrive-'))
  dirs.push(d)
  return d
}

describe('redrive through the bridge, with the broker down and then back', needsMosquitto(), () => {
  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, ['home/#'], 5)
    bridgeStore = fresh()
    const config = loadConfig({
      MQTT_URL: broker.url,
      DEAD_LETTER_TARGET: `file:${bridgeStore}`,
      MQTT_PUBLISH_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'error',
    })
    bridge = new Bridge(config, loadRuleSet(undefined, bundledRules))
  })
  after(async () => {
    await bridge?.close()
    await sub?.close()
    await broker?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** The subscriber, subscribed again if a test before stopped the broker under it. */
  const devices = async () => {
    if (!sub.client.connected) sub = await subscribe(broker.url, ['home/#'], 5)
    return sub
  }
  const run = (dir: string, now: number, requestId: string): Promise<RedriveResult> =>
    redrive({ dir, now: new Date(now), deadline: Date.now() + 60_000, maxAgeMs: MAX_AGE, backoffMs: BACKOFF, send, requestId })

  test('transient entries are delivered once the broker is back, after their backoff; poison ones are never sent', async () => {
    const dir = fresh()
    const t0 = Date.now()
    await appendDeadLetters(dir, failed('fail-A', [cloudEvent('R-1', 'roomR'), cloudEvent('R-2', 'roomR')]))
    // A transient failure of a batch that also held a poison message (bad qoslevel).
    await appendDeadLetters(dir, failed('fail-E', [cloudEvent('M-1', 'roomM'), cloudEvent('M-2', 'roomM', '7')]))
    await appendDeadLetters(dir, failed('fail-U', [cloudEvent('U-1', 'roomU')], 'DeadLetterError'))
    const poison = { index: 0, reason: 'no rule', ruleId: 'home-lamps', messageId: 'P-1', event: cloudEvent('P-1', 'roomP') }
    await appendDeadLetters(dir, poisonEntries({ requestId: 'b-1', failedAt: new Date().toISOString(), messages: [poison] }, new Date()))
    await appendDeadLetters(dir, failed('fail-old', [cloudEvent('X-1', 'roomX')]), { now: new Date(t0 - MAX_AGE - HOUR) })

    await sub.close()
    await broker.stop()
    const down = await run(dir, t0, 'timer-1')
    assert.deepEqual(
      { tried: down.tried, replayed: down.replayed, stillFailing: down.stillFailing, expired: down.expired, deferred: down.deferred },
      { tried: 4, replayed: 0, stillFailing: 4, expired: 1, deferred: 0 },
    )
    let stored = await readDeadLetters(dir)
    const r1 = stored.find((e) => e.messageId === 'R-1')!
    assert.equal(r1.redrive?.attempts, 1)
    assert.ok(Math.abs(Date.parse(r1.redrive!.nextAttemptAt!) - (t0 + BACKOFF)) < 5000, 'next attempt one backoff later')
    assert.equal(stored.find((e) => e.messageId === 'X-1')!.status, 'expired')

    const waiting = await run(dir, t0 + 1000, 'timer-2')
    assert.deepEqual([waiting.tried, waiting.waiting], [0, 4], 'nothing is sent before its next attempt')

    await broker.start()
    sub = await subscribe(broker.url, ['home/#'], 5) // the devices, back with their broker
    const back = await run(dir, t0 + BACKOFF + 5000, 'timer-3')
    assert.deepEqual(
      { tried: back.tried, replayed: back.replayed, stillFailing: back.stillFailing, deadLettered: back.deadLettered },
      { tried: 4, replayed: 3, stillFailing: 0, deadLettered: 1 },
    )
    await barrier(
      viaClient(broker.url),
      [sub],
      [
        { topic: 'home/roomR/lamp', qos: 1 },
        { topic: 'home/roomM/lamp', qos: 1 },
      ],
    )
    assert.deepEqual(
      withoutSentinels(sub.messages)
        .map((m) => m.payload.toString())
        .sort(),
      ['redriven M-1', 'redriven R-1', 'redriven R-2'],
      'each transient message once; the poison, unknown and expired ones never',
    )

    const later = await run(dir, t0 + 10 * HOUR, 'timer-4')
    assert.deepEqual([later.tried, later.waiting], [0, 0], 'nothing left to redrive')
    stored = await readDeadLetters(dir)
    const status = Object.fromEntries(stored.map((e) => [e.messageId, [e.status, e.redrive?.stopped ?? null]]))
    assert.deepEqual(status, {
      'R-1': ['replayed', false],
      'R-2': ['replayed', false],
      'M-1': ['replayed', false],
      'M-2': ['dead-lettered', true],
      'U-1': ['pending', null],
      'P-1': ['pending', null],
      'X-1': ['expired', null],
    })
    assert.ok(
      (await readDeadLetters(bridgeStore)).some((e) => e.messageId === 'M-2' && /qoslevel/.test(e.reason)),
      'the bridge stored the poison one as its own entry',
    )
    const m2 = stored.find((e) => e.messageId === 'M-2')!
    assert.match(m2.deadLetteredReason ?? '', /the bridge dead-lettered it when redrive sent it .*poison after all/)
  })

  test('backoff doubles while the broker stays down, and the entry expires at the maximum age', async () => {
    const dir = fresh()
    const t0 = Date.now()
    await appendDeadLetters(dir, failed('fail-B', [cloudEvent('B-1', 'roomB')]))
    await broker.stop()
    try {
      let now = t0
      const next: number[] = []
      for (let attempt = 1; attempt <= 3; attempt++) {
        const r = await run(dir, now, `timer-b${attempt}`)
        assert.equal(r.stillFailing, 1, `attempt ${attempt}`)
        const [e] = await readDeadLetters(dir)
        next.push(Date.parse(e!.redrive!.nextAttemptAt!) - now)
        now = Date.parse(e!.redrive!.nextAttemptAt!)
      }
      assert.deepEqual(
        next.map((ms) => Math.round(ms / 1000)),
        [60, 120, 240],
      )
      const expired = await run(dir, t0 + MAX_AGE + 1000, 'timer-b4')
      assert.deepEqual([expired.expired, expired.tried], [1, 0])
      assert.equal((await readDeadLetters(dir))[0]!.status, 'expired')
    } finally {
      await broker.start()
    }
  })

  test('while the broker is down a run stops after three failed invocations; the rest wait for the next run', async () => {
    const dir = fresh()
    for (const n of [1, 2, 3, 4, 5]) await appendDeadLetters(dir, failed(`fail-C${n}`, [cloudEvent(`C-${n}`, 'roomC')]))
    await broker.stop()
    try {
      const r = await run(dir, Date.now(), 'timer-c')
      assert.deepEqual([r.tried, r.stillFailing, r.deferred], [3, 3, 2])
    } finally {
      await broker.start()
    }
  })

  test('a run held by another run (its lease) does nothing', async () => {
    const dir = fresh()
    await appendDeadLetters(dir, failed('fail-L', [cloudEvent('L-1', 'roomL')]))
    writeFileSync(join(dir, 'redrive.lease'), JSON.stringify({ holder: 'other-run', until: new Date(Date.now() + HOUR).toISOString() }))
    const r = await run(dir, Date.now(), 'timer-l')
    assert.match(r.skipped ?? '', /another run holds redrive.lease/)
    assert.equal(r.tried, 0)
  })

  test('a message the bridge itself refused, in a batch that failed for a transient reason, is stored as poison and never redriven', async () => {
    await devices()
    const dir = fresh()
    const good = cloudEvent('Q-1', 'roomQ')
    const malformed = { ...cloudEvent('Q-2', 'roomQ'), data: { ...cloudEvent('Q-2', 'roomQ').data, topic: 42 } }
    await appendDeadLetters(dir, failed('fail-Q', [good, malformed]))
    const entries = await readDeadLetters(dir)
    assert.deepEqual(
      entries.map((e) => [e.messageId, e.failure]),
      [
        ['Q-1', 'transient'],
        ['Q-2', 'poison'],
      ],
    )
    assert.match(
      entries[1]!.reason,
      /not acknowledged by the MQTT broker; the message itself is poison: \[\d+\]\.data\.topic: must be a string/,
    )
    const before = sub.messages.length
    const r = await run(dir, Date.now(), 'timer-q')
    assert.deepEqual([r.tried, r.replayed, r.deadLettered], [1, 1, 0], 'only the transient one is sent')
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomQ/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['redriven Q-1'],
    )
  })

  test('a batch the bridge dead-letters part of is split for good: a later run sends each of its messages alone', async () => {
    await devices()
    const dir = fresh()
    const t0 = Date.now()
    await appendDeadLetters(
      dir,
      failed('fail-S', [cloudEvent('S-1', 'roomS'), cloudEvent('S-2', 'roomS', '7'), cloudEvent('S-3', 'roomS')]),
    )
    const sizes: number[] = []
    const deadline = Date.now() + 10_000
    // The batch's invocation takes what is left of the run (a slow bridge): the messages split off it wait.
    const slow: BridgeSender = async (event, requestId, timeoutMs) => {
      sizes.push((JSON.parse(event.toString()) as unknown[]).length)
      const answer = await send(event, requestId, timeoutMs)
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - 3500 - Date.now())))
      return answer
    }
    const first = await redrive({
      dir,
      now: new Date(t0),
      deadline,
      maxAgeMs: MAX_AGE,
      backoffMs: BACKOFF,
      send: slow,
      requestId: 'timer-s1',
    })
    assert.deepEqual([first.tried, first.deferred], [0, 3])
    assert.deepEqual(sizes, [3], 'the whole batch, once')
    assert.ok(
      (await readDeadLetters(dir)).every((e) => e.redrive?.alone),
      'the split is stored',
    )
    sizes.length = 0
    const recorded: BridgeSender = async (event, requestId, timeoutMs) => {
      sizes.push((JSON.parse(event.toString()) as unknown[]).length)
      return send(event, requestId, timeoutMs)
    }
    const once = (now: number, requestId: string) =>
      redrive({ dir, now: new Date(now), deadline: Date.now() + 60_000, maxAgeMs: MAX_AGE, backoffMs: BACKOFF, send: recorded, requestId })
    const second = await once(t0 + 1000, 'timer-s2')
    assert.deepEqual([second.tried, second.replayed, second.deadLettered], [3, 2, 1])
    assert.deepEqual(sizes, [1, 1, 1], 'never the whole batch again')
    const status = Object.fromEntries((await readDeadLetters(dir)).map((e) => [e.messageId, e.status]))
    assert.deepEqual(status, { 'S-1': 'replayed', 'S-2': 'dead-lettered', 'S-3': 'replayed' })
    const third = await once(t0 + 10 * HOUR, 'timer-s3')
    assert.deepEqual([third.tried, third.waiting], [0, 0], 'nothing left: the dead-lettered one is never sent again')
  })

  test('entries that are not bridge events as received are never sent, whatever their failure says', async () => {
    const dir = fresh()
    const [entry] = failed('fail-N', [cloudEvent('N-1', 'roomN')])
    const variants: StoredDeadLetter[] = [
      { ...entry!, key: 'a'.repeat(32), lossy: true },
      { ...entry!, key: 'b'.repeat(32), incomplete: true },
      { ...entry!, key: 'c'.repeat(32), source: 'unrecognised' },
      { ...entry!, key: 'd'.repeat(32), source: 'refused-part' },
    ]
    await appendDeadLetters(dir, variants)
    const r = await run(dir, Date.now(), 'timer-n')
    assert.deepEqual([r.tried, r.waiting, r.deferred], [0, 0, 0])
  })

  test('two runs taking over a stale lease at once: one sends, the other leaves it; nothing is delivered twice', async () => {
    await devices()
    const dir = fresh()
    await appendDeadLetters(dir, failed('fail-T', [cloudEvent('T-1', 'roomT')]))
    writeFileSync(join(dir, 'redrive.lease'), JSON.stringify({ holder: 'crashed-run', until: new Date(Date.now() - HOUR).toISOString() }))
    const before = sub.messages.length
    const results = await Promise.all(['timer-t1', 'timer-t2', 'timer-t3'].map((id) => run(dir, Date.now(), id)))
    assert.deepEqual(results.map((r) => r.tried).sort(), [0, 0, 1], JSON.stringify(results))
    assert.equal(results.filter((r) => /another run holds redrive\.lease/.test(r.skipped ?? '')).length, 2)
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomT/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['redriven T-1'],
    )
  })

  test('a run needs a finite deadline: its lease ends with it', async () => {
    await assert.rejects(
      redrive({
        dir: fresh(),
        now: new Date(),
        deadline: Number.POSITIVE_INFINITY,
        maxAgeMs: MAX_AGE,
        backoffMs: BACKOFF,
        send,
        requestId: 'x',
      }),
      /redrive needs a finite deadline/,
    )
  })
})
