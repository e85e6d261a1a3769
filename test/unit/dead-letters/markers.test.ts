// Markers folded into entries (shared/dead-letters/store/markers.ts, through the store): the store's own
// clock orders the facts, so no time a record claims can keep an entry from counting as replayed, and the
// fold gives the same entry whatever order the marker files are read in.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { PoisonRecord } from '../../../shared/dead-letters/record.js'
import { poisonEntries } from '../../../shared/dead-letters/store/entries.js'
import type { EntryLine } from '../../../shared/dead-letters/store/entry.js'
import { foldEntry, type Marker } from '../../../shared/dead-letters/store/markers.js'
import { MAX_BACKOFF_MS, nextAttemptAt } from '../../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore } from '../../../shared/dead-letters/store/store.js'
import { FakeClock } from '../mqtt/fakes.js'

const SEED = 20_240_501

function record(requestId: string, failedAt: string): PoisonRecord {
  return {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId,
    failedAt,
    messages: [{ index: 0, reason: `bad qos (${requestId})`, ruleId: 'r', messageId: 'M-1', event: { data: { topic: 't', body: 'x' } } }],
  }
}

/** A store on a clock moved by hand, starting 2024-01-01T00:00:00Z. */
function store() {
  const clock = new FakeClock(Date.UTC(2024, 0, 1))
  const s = new DeadLetterStore(mkdtempSync(join(tmpdir(), 'dl-markers-')), { clock })
  const report = (requestId: string, failedAt = new Date(clock.now()).toISOString()) =>
    s.put(poisonEntries(record(requestId, failedAt), clock.now()))
  const one = async () => (await s.readAll())[0]!
  return { s, clock, report, one }
}

describe('markers', () => {
  test('a later report with failedAt "~" cannot keep the entry from counting as replayed', async () => {
    const { s, clock, report, one } = store()
    await report('req-1')
    clock.advance(1000)
    await report('req-2', '~')
    const entry = await one()
    assert.equal(entry.attempts, 2)
    assert.notEqual(entry.lastFailureAt, '~')
    clock.advance(1000)
    await s.mark([{ marker: 'replayed', key: entry.key, requestId: 'replay-1', turn: 1 }])
    const after = await one()
    assert.deepEqual([after.status, after.replayedAt], ['replayed', new Date(clock.now()).toISOString()])
  })

  test('every report is kept in the history, oldest first; the entry shows the latest reason and the heaviest failure', async () => {
    const { s, clock, report, one } = store()
    await report('req-1')
    clock.advance(1000)
    const key = (await one()).key
    await s.mark([
      {
        marker: 'failed-again',
        key,
        requestId: 'dl-2',
        attempts: 4,
        reason: 'broker down',
        failure: 'transient',
        failedAt: '2024-01-01T00:00:01.000Z',
      },
    ])
    const entry = await one()
    assert.deepEqual(
      entry.history.map((h) => [h.requestId, h.reason, h.failure]),
      [
        ['req-1', 'bad qos (req-1)', 'poison'],
        ['dl-2', 'broker down', 'transient'],
      ],
    )
    assert.deepEqual(
      [entry.reason, entry.failure, entry.attempts],
      ['broker down', 'poison', 5],
      'poison is never redriven, whoever reports it later',
    )
  })

  test('a discard is final: the same message failing again raises its attempts, and it stays discarded', async () => {
    const { s, clock, report, one } = store()
    await report('req-1')
    const key = (await one()).key
    clock.advance(10_000)
    await s.mark([{ marker: 'discarded', key, requestId: 'discard-1', turn: 1, note: 'test data' }])
    const discardedAt = new Date(clock.now()).toISOString()
    clock.advance(10_000)
    await report('req-2')
    const after = await one()
    assert.deepEqual([after.status, after.discardedAt, after.discardNote, after.attempts], ['discarded', discardedAt, 'test data', 2])
  })

  test('replayed, then failing again, is pending again; a poison report (redrive: dead-lettered) adds to its history', async () => {
    const { s, clock, report, one } = store()
    await report('req-1')
    const key = (await one()).key
    clock.advance(10_000)
    await s.mark([{ marker: 'replayed', key, requestId: 'replay-1', turn: 1 }])
    assert.equal((await one()).status, 'replayed')
    clock.advance(10_000)
    await report('req-2')
    assert.equal((await one()).status, 'pending')
    clock.advance(10_000)
    await s.mark([{ marker: 'dead-lettered', key, requestId: 'timer-1', turn: 2, reason: 'poison after all' }])
    const last = await one()
    assert.deepEqual(
      [last.status, last.reason, last.failure, last.history.length, last.turn],
      ['pending', 'poison after all', 'poison', 3, 2],
    )
  })

  test('redrive markers: attempts counted, the next attempt and the last error kept', async () => {
    const { s, clock, report, one } = store()
    await report('req-1')
    const key = (await one()).key
    const next = new Date(clock.now() + 60_000).toISOString()
    await s.mark([{ marker: 'redrive-failed', key, requestId: 'timer-1', turn: 1, attempt: 1, error: 'broker down', nextAttemptAt: next }])
    assert.deepEqual((await one()).redrive, { attempts: 1, nextAttemptAt: next, lastError: 'broker down' })
  })

  test('a marker line of another format is reported with why, never guessed at', async () => {
    const { s, report } = store()
    await report('req-1')
    const key = (await s.readAll())[0]!.key
    // A redrive-failed marker as an unreleased version wrote it: no turn, and null for "never again".
    await s.fs.appendLines(
      join(s.dir, 'markers-2024-01-01-old.jsonl'),
      `${JSON.stringify({ marker: 'redrive-failed', key, at: '2024-01-01T00:00:00.000Z', requestId: 't', attempt: 1, error: 'x', nextAttemptAt: null })}\n`,
    )
    const unreadable: Array<{ problem: string }> = []
    const [entry] = await s.readAll({ onUnreadable: (u) => void unreadable.push(u) })
    assert.equal(entry!.redrive, undefined)
    assert.equal(unreadable.length, 1)
    assert.match(unreadable[0]!.problem, /^not a marker of this store's format: turn: Required/)
  })

  test('backoff doubles per attempt and stops growing at its ceiling', () => {
    const b = 5 * 60_000
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => nextAttemptAt(0, n, b)),
      [b, 2 * b, 4 * b, 8 * b],
    )
    assert.equal(nextAttemptAt(0, 50, b), MAX_BACKOFF_MS)
  })
})

describe('the fold, in any order of files', () => {
  const KEY = 'b'.repeat(32)
  const line: EntryLine = {
    key: KEY,
    reason: 'first',
    source: 'async-destination',
    failure: 'transient',
    requestId: 'req-0',
    firstFailureAt: '2024-01-01T00:00:00.000Z',
    lastFailureAt: '2024-01-01T00:00:00.000Z',
    storedAt: '2024-01-01T00:00:00.000Z',
    attempts: 1,
    event: {},
  }
  /** Times within a few seconds, so that markers often share one `at`. */
  const at = fc.integer({ min: -2, max: 8 }).map((s) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString())
  const requestId = fc.constantFrom('req-0', 'req-1', 'req-2', 'run-1')
  const turn = fc.integer({ min: 1, max: 4 })
  const marker: fc.Arbitrary<Marker> = fc.oneof(
    fc.record({
      marker: fc.constant('failed-again' as const),
      key: fc.constant(KEY),
      at,
      requestId,
      attempts: fc.integer({ min: 1, max: 5 }),
      reason: fc.constantFrom('a', 'b', 'c'),
      failure: fc.constantFrom('transient' as const, 'unknown' as const, 'poison' as const),
      failedAt: at,
    }),
    fc.record({ marker: fc.constantFrom('replayed' as const, 'redrive-split' as const), key: fc.constant(KEY), at, requestId, turn }),
    fc.record({ marker: fc.constant('discarded' as const), key: fc.constant(KEY), at, requestId, turn, note: fc.constantFrom('x', 'y') }),
    fc.record({
      marker: fc.constantFrom('expired' as const, 'dead-lettered' as const),
      key: fc.constant(KEY),
      at,
      requestId,
      turn,
      reason: fc.constantFrom('p', 'q'),
    }),
    fc.record({
      marker: fc.constant('redrive-failed' as const),
      key: fc.constant(KEY),
      at,
      requestId,
      turn,
      attempt: turn,
      error: fc.constantFrom('e1', 'e2'),
      nextAttemptAt: at,
    }),
  )

  test('any permutation of the same markers folds to the same entry', () => {
    fc.assert(
      fc.property(
        fc
          .array(marker, { maxLength: 12 })
          .chain((ms) => fc.tuple(fc.constant(ms), fc.shuffledSubarray(ms, { minLength: ms.length, maxLength: ms.length }))),
        ([ms, shuffled]) => {
          assert.deepEqual(foldEntry(line, shuffled), foldEntry(line, ms))
        },
      ),
      { seed: SEED, numRuns: 3000 },
    )
  })

  test("through the store: markers split over several writers' files, read in any order, fold to the same entry", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(marker, fc.constantFrom('aaaa', 'bbbb', 'cccc')), { minLength: 1, maxLength: 8 }),
        async (placed) => {
          const clock = new FakeClock(Date.UTC(2024, 0, 1))
          const s = new DeadLetterStore(mkdtempSync(join(tmpdir(), 'dl-fold-')), { clock })
          await s.fs.appendLines(join(s.dir, 'dead-letters-2024-01-01-zzzz.jsonl'), `${JSON.stringify(line)}\n`)
          for (const [m, writer] of placed)
            await s.fs.appendLines(join(s.dir, `markers-2024-01-01-${writer}.jsonl`), `${JSON.stringify(m)}\n`)
          const [entry] = await s.readAll()
          assert.deepEqual(
            entry,
            foldEntry(
              line,
              placed.map(([m]) => m),
            ),
          )
        },
      ),
      { seed: SEED, numRuns: 40 },
    )
  })
})
