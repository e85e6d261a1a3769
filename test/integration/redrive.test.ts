// Redrive (shared/dead-letters/store/redrive.ts) through a real bridge to a real Mosquitto that goes down
// and comes back: transient entries are delivered once it is back, poison and unknown ones are left alone,
// each entry waits out its backoff, and entries past the maximum age are marked expired, not sent. The
// store's clock is moved by hand, so hours of backoff take no time; the broker and the bridge are real, and
// what the bridge dead-letters goes back into the same store, as on Function Compute.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { bundledRules } from '../../functions/bridge/bundled-rules.js'
import { type ReplayResult, replay } from '../../scripts/cli/replay.js'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { createDeadLetterSink } from '../../shared/dead-letters/handoff/sink.js'
import { poisonEntries } from '../../shared/dead-letters/store/entries.js'
import { type BridgeSender, type RedriveResult, redrive } from '../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { failedInvocation } from '../helpers/destination-record.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

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

let broker: Broker
let sub: Subscriber
let bridge: Bridge
/** The store of the test running: where the bridge's dead letters go, as the dead-letter function's are. */
let current = ''
const dirs: string[] = []
const send: BridgeSender = (event, requestId) => bridge.handle(event, fcContext(requestId, 30))
/** A store of its own, on a clock of its own (moved by hand), starting now. */
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'redrive-'))
  dirs.push(dir)
  current = dir
  const clock = new FakeClock(Date.now())
  const at = (ms = clock.now()) => new DeadLetterStore(dir, { clock: new FakeClock(ms), deadline: ms + 60_000 })
  const store = () => new DeadLetterStore(dir, { clock, deadline: clock.now() + 60_000 })
  const put = (entries: NewEntry[], ms?: number) => at(ms).put(entries)
  return { dir, clock, store, put, t0: clock.now() }
}

describe('redrive through the bridge, with the broker down and then back', needsMosquitto(), () => {
  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, ['home/#'], 5)
    const config = loadConfig({ MQTT_URL: broker.url, MQTT_PUBLISH_TIMEOUT_MS: '2000', LOG_LEVEL: 'error' })
    const sink = {
      description: 'file:<the test store>',
      send: (...a: Parameters<ReturnType<typeof createDeadLetterSink>['send']>) =>
        createDeadLetterSink({ kind: 'file', dir: current, ephemeral: false }).send(...a),
    }
    bridge = new Bridge(config, loadRuleSet(undefined, bundledRules), sink)
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
  const run = (f: ReturnType<typeof fresh>, requestId: string, sender: BridgeSender = send): Promise<RedriveResult> =>
    redrive(f.store(), { maxAgeMs: MAX_AGE, backoffMs: BACKOFF, send: sender, requestId })

  test('transient entries are delivered once the broker is back, after their backoff; poison ones are never sent', async () => {
    const f = fresh()
    await f.put(failedInvocation('fail-A', [cloudEvent('R-1', 'roomR'), cloudEvent('R-2', 'roomR')]))
    // A transient failure of a batch that also held a poison message (bad qoslevel).
    await f.put(failedInvocation('fail-E', [cloudEvent('M-1', 'roomM'), cloudEvent('M-2', 'roomM', '7')]))
    await f.put(failedInvocation('fail-U', [cloudEvent('U-1', 'roomU')], 'DeadLetterError'))
    const poison = { index: 0, reason: 'no rule', ruleId: 'home-lamps', messageId: 'P-1', event: cloudEvent('P-1', 'roomP') }
    await f.put(poisonEntries({ requestId: 'b-1', failedAt: new Date(f.t0).toISOString(), messages: [poison] }, f.t0))
    await f.put(failedInvocation('fail-old', [cloudEvent('X-1', 'roomX')]), f.t0 - MAX_AGE - HOUR)

    await sub.close()
    await broker.stop()
    const down = await run(f, 'timer-1')
    assert.deepEqual(
      { tried: down.tried, replayed: down.replayed, stillFailing: down.stillFailing, expired: down.expired, deferred: down.deferred },
      { tried: 4, replayed: 0, stillFailing: 4, expired: 1, deferred: 0 },
    )
    let stored = await readDeadLetters(f.dir)
    const r1 = stored.find((e) => e.messageId === 'R-1')!
    assert.deepEqual(
      [r1.redrive?.attempts, r1.redrive?.nextAttemptAt],
      [1, new Date(f.t0 + BACKOFF).toISOString()],
      'next attempt one backoff later',
    )
    assert.equal(stored.find((e) => e.messageId === 'X-1')!.status, 'expired')

    // The bridge dead-lettered M-2 (qoslevel 7) even with its broker down: its report made the entry poison.
    assert.deepEqual(
      stored.filter((e) => e.messageId === 'M-2').map((e) => [e.status, e.failure, e.history.length]),
      [['pending', 'poison', 2]],
    )
    f.clock.advance(1000)
    const waiting = await run(f, 'timer-2')
    assert.deepEqual([waiting.tried, waiting.waiting], [0, 3], 'nothing is sent before its next attempt, and the poison one never')

    await broker.start()
    sub = await subscribe(broker.url, ['home/#'], 5) // the devices, back with their broker
    f.clock.advance(BACKOFF + 4000)
    const back = await run(f, 'timer-3')
    assert.deepEqual(
      { tried: back.tried, replayed: back.replayed, stillFailing: back.stillFailing, deadLettered: back.deadLettered },
      { tried: 3, replayed: 3, stillFailing: 0, deadLettered: 0 },
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

    f.clock.advance(10 * HOUR)
    const later = await run(f, 'timer-4')
    assert.deepEqual([later.tried, later.waiting], [0, 0], 'nothing left to redrive')
    stored = await readDeadLetters(f.dir)
    const status = Object.fromEntries(stored.map((e) => [e.messageId, [e.status, e.failure]]))
    assert.deepEqual(status, {
      'R-1': ['replayed', 'transient'],
      'R-2': ['replayed', 'transient'],
      'M-1': ['replayed', 'transient'],
      'M-2': ['pending', 'poison'],
      'U-1': ['pending', 'unknown'],
      'P-1': ['pending', 'poison'],
      'X-1': ['expired', 'transient'],
    })
    // Poison after all: one entry, its history holding the outage and the bridge's own reason.
    const m2 = stored.filter((e) => e.messageId === 'M-2')
    assert.deepEqual(
      m2.map((e) => e.history.map((h) => h.failure)),
      [['transient', 'poison']],
    )
    assert.match(m2[0]!.reason, /qoslevel/, 'the bridge reported it into the same entry')
  })

  test('backoff doubles while the broker stays down, and the entry expires at the maximum age', async () => {
    const f = fresh()
    await f.put(failedInvocation('fail-B', [cloudEvent('B-1', 'roomB')]))
    await broker.stop()
    try {
      const next: number[] = []
      for (let attempt = 1; attempt <= 3; attempt++) {
        const r = await run(f, `timer-b${attempt}`)
        assert.equal(r.stillFailing, 1, `attempt ${attempt}`)
        const [e] = await readDeadLetters(f.dir)
        next.push(Date.parse(e!.redrive!.nextAttemptAt!) - f.clock.now())
        f.clock.advance(next.at(-1)!)
      }
      assert.deepEqual(
        next.map((ms) => ms / 1000),
        [60, 120, 240],
      )
      f.clock.advance(f.t0 + MAX_AGE + 1000 - f.clock.now())
      const expired = await run(f, 'timer-b4')
      assert.deepEqual([expired.expired, expired.tried], [1, 0])
      assert.equal((await readDeadLetters(f.dir))[0]!.status, 'expired')
    } finally {
      await broker.start()
    }
  })

  test('while the broker is down a run stops after three failed invocations; the rest wait for the next run', async () => {
    const f = fresh()
    for (const n of [1, 2, 3, 4, 5]) await f.put(failedInvocation(`fail-C${n}`, [cloudEvent(`C-${n}`, 'roomC')]))
    await broker.stop()
    try {
      const r = await run(f, 'timer-c')
      assert.deepEqual([r.tried, r.stillFailing, r.deferred], [3, 3, 2])
    } finally {
      await broker.start()
    }
  })

  test('an entry another run holds is left alone, and sent by the next run once that turn has ended', async () => {
    await devices()
    const f = fresh()
    await f.put(failedInvocation('fail-L', [cloudEvent('L-1', 'roomL')]))
    const [entry] = await readDeadLetters(f.dir)
    const other = await f.store().takeTurn(entry!.key, 'replay-other', f.clock.now() + HOUR, 0)
    assert.equal(other.kind, 'held')
    const held = await run(f, 'timer-l1')
    assert.deepEqual([held.tried, held.deferred], [0, 1])
    await f.store().endTurn(entry!.key, 1, 'pending')
    const after = await run(f, 'timer-l2')
    assert.deepEqual([after.tried, after.replayed], [1, 1])
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomL/lamp', qos: 1 }])
  })

  test('a discard that holds the entry first wins: a redrive run meanwhile leaves it alone, and no later run sends it', async () => {
    await devices()
    const f = fresh()
    await f.put(failedInvocation('fail-D1', [cloudEvent('D-1', 'roomD')]))
    const [entry] = await readDeadLetters(f.dir)
    const during: RedriveResult[] = []
    const printed: string[] = []
    const discard = await replay({
      ...{ dir: f.dir, keys: [entry!.key], discard: true, target: 'local', clock: f.clock, print: (l) => void printed.push(l) },
      onHeld: async () => void during.push(await run(f, 'timer-d1')),
    })
    assert.deepEqual([discard.discarded, discard.failed, during[0]!.tried, during[0]!.deferred], [1, 0, 0, 1])
    f.clock.advance(HOUR)
    const later = await run(f, 'timer-d2')
    assert.equal(later.tried, 0)
    const [after] = await readDeadLetters(f.dir)
    assert.deepEqual([after!.status, after!.replayedAt], ['discarded', undefined])
    const before = (await devices()).messages.length
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomD/lamp', qos: 1 }])
    assert.deepEqual(withoutSentinels(sub.messages.slice(before)), [], 'nothing was sent')
  })

  test('a redrive that holds the entry first wins: a discard meanwhile says who holds it and changes nothing', async () => {
    await devices()
    const f = fresh()
    await f.put(failedInvocation('fail-D2', [cloudEvent('D-2', 'roomD')]))
    const [entry] = await readDeadLetters(f.dir)
    let discard: ReplayResult | undefined
    const printed: string[] = []
    const racing: BridgeSender = async (event, requestId, timeoutMs) => {
      const options = { dir: f.dir, keys: [entry!.key], discard: true, target: 'local' as const, clock: f.clock }
      discard = await replay({ ...options, print: (l) => void printed.push(l) })
      return send(event, requestId, timeoutMs)
    }
    const result = await run(f, 'timer-d3', racing)
    assert.deepEqual([result.tried, result.replayed], [1, 1])
    assert.deepEqual([discard!.discarded, discard!.failed], [0, 1])
    assert.match(printed.join('\n'), /not discarded: D-2: timer-d3 holds it until .*: not discarded; run again once it is done/)
    const [after] = await readDeadLetters(f.dir)
    assert.deepEqual([after!.status, after!.discardedAt], ['replayed', undefined])
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomD/lamp', qos: 1 }])
  })

  test('a message the bridge itself refused, in a batch that failed for a transient reason, is stored as poison and never redriven', async () => {
    await devices()
    const f = fresh()
    const good = cloudEvent('Q-1', 'roomQ')
    const malformed = { ...cloudEvent('Q-2', 'roomQ'), data: { ...cloudEvent('Q-2', 'roomQ').data, topic: 42 } }
    await f.put(failedInvocation('fail-Q', [good, malformed]))
    const entries = await readDeadLetters(f.dir)
    assert.deepEqual(
      entries.map((e) => [e.messageId, e.failure]),
      [
        ['Q-1', 'transient'],
        ['Q-2', 'poison'],
      ],
    )
    assert.match(entries[1]!.reason, /not delivered; the message itself is poison: \[\d+\]\.data\.topic: must be a string/)
    const before = sub.messages.length
    const r = await run(f, 'timer-q')
    assert.deepEqual([r.tried, r.replayed, r.deadLettered], [1, 1, 0], 'only the transient one is sent')
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomQ/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['redriven Q-1'],
    )
  })

  test('a batch the bridge dead-letters part of is split for good: a later run sends each alone, and the poison one never again', async () => {
    await devices()
    const f = fresh()
    await f.put(failedInvocation('fail-S', [cloudEvent('S-1', 'roomS'), cloudEvent('S-2', 'roomS', '7'), cloudEvent('S-3', 'roomS')]))
    // The bridge's own report has not arrived (on Function Compute its hand-off is asynchronous): redrive's finding stops it.
    current = mkdtempSync(join(tmpdir(), 'redrive-elsewhere-'))
    dirs.push(current)
    const sizes: number[] = []
    const deadline = f.clock.now() + 60_000
    // The batch's invocation takes what is left of the run (a slow bridge, on the store's clock): the messages split off it wait.
    const slow: BridgeSender = async (event, requestId, timeoutMs) => {
      sizes.push((JSON.parse(event.toString()) as unknown[]).length)
      const answer = await send(event, requestId, timeoutMs)
      f.clock.advance(deadline - 3500 - f.clock.now())
      return answer
    }
    const first = await run(f, 'timer-s1', slow)
    assert.deepEqual([first.tried, first.deferred], [0, 3])
    assert.deepEqual(sizes, [3], 'the whole batch, once')
    assert.ok(
      (await readDeadLetters(f.dir)).every((e) => e.redrive?.alone),
      'the split is stored',
    )
    sizes.length = 0
    const recorded: BridgeSender = async (event, requestId, timeoutMs) => {
      sizes.push((JSON.parse(event.toString()) as unknown[]).length)
      return send(event, requestId, timeoutMs)
    }
    const second = await run(f, 'timer-s2', recorded)
    assert.deepEqual([second.tried, second.replayed, second.deadLettered], [3, 2, 1])
    assert.deepEqual(sizes, [1, 1, 1], 'never the whole batch again')
    const stored = await readDeadLetters(f.dir)
    const status = Object.fromEntries(stored.map((e) => [e.messageId, [e.status, e.failure]]))
    assert.deepEqual(status, { 'S-1': ['replayed', 'transient'], 'S-2': ['pending', 'poison'], 'S-3': ['replayed', 'transient'] })
    assert.match(stored[1]!.reason, /the bridge dead-lettered it when redrive sent it \(request timer-s2-redrive-\d\): poison after all/)
    f.clock.advance(10 * HOUR)
    const third = await run(f, 'timer-s3', recorded)
    assert.deepEqual([third.tried, third.waiting], [0, 0], 'nothing left: the poison one is never redriven again')
  })

  test('entries that are not bridge events as received are never sent, whatever their failure says', async () => {
    const f = fresh()
    const [entry] = failedInvocation('fail-N', [cloudEvent('N-1', 'roomN')])
    const variants: NewEntry[] = [
      { ...entry!, key: 'a'.repeat(32), lossy: true },
      { ...entry!, key: 'b'.repeat(32), incomplete: true },
      { ...entry!, key: 'c'.repeat(32), source: 'unrecognised' },
      { ...entry!, key: 'd'.repeat(32), source: 'refused-part' },
    ]
    await f.put(variants)
    const r = await run(f, 'timer-n')
    assert.deepEqual([r.tried, r.waiting, r.deferred], [0, 0, 0])
  })

  test('three runs at once: each entry is sent by one of them, once', async () => {
    await devices()
    const f = fresh()
    await f.put(failedInvocation('fail-T', [cloudEvent('T-1', 'roomT')]))
    const before = sub.messages.length
    const results = await Promise.all(['timer-t1', 'timer-t2', 'timer-t3'].map((id) => run(f, id)))
    assert.deepEqual(results.map((r) => r.tried).sort(), [0, 0, 1], JSON.stringify(results))
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomT/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['redriven T-1'],
    )
  })

  test('a run needs a finite deadline: its turns end with it', async () => {
    await assert.rejects(
      redrive(new DeadLetterStore(fresh().dir), { maxAgeMs: MAX_AGE, backoffMs: BACKOFF, send, requestId: 'x' }),
      /redrive needs a finite deadline/,
    )
  })
})
