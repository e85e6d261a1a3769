// Markers folded into entries (shared/dead-letters/markers.ts, through the store): the store's own clock
// orders the facts, so no time a record claims can keep an entry from counting as replayed.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { poisonEntries } from '../../../shared/dead-letters/entries.js'
import type { PoisonRecord } from '../../../shared/dead-letters/record.js'
import { MAX_BACKOFF_MS, nextAttemptAt } from '../../../shared/dead-letters/redrive.js'
import { appendDeadLetters, appendMarkers, markReplayed, readDeadLetters } from '../../../shared/dead-letters/store.js'

const storeDir = () => mkdtempSync(join(tmpdir(), 'dl-markers-'))

function record(requestId: string, failedAt: string): PoisonRecord {
  return {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId,
    failedAt,
    messages: [{ index: 0, reason: 'bad qos', ruleId: 'r', messageId: 'M-1', event: { data: { topic: 't', body: 'x' } } }],
  }
}

describe('markers', () => {
  test('a later report with failedAt "~" cannot keep the entry from counting as replayed', async () => {
    const dir = storeDir()
    await appendDeadLetters(dir, poisonEntries(record('req-1', '2024-01-01T00:00:00.000Z'), new Date()))
    // Another request reports the same message with a hostile time, as the old store took it: verbatim.
    await appendDeadLetters(dir, poisonEntries(record('req-2', '~'), new Date()))
    const [entry] = await readDeadLetters(dir)
    assert.equal(entry!.attempts, 2)
    assert.notEqual(entry!.lastFailureAt, '~')
    await markReplayed(dir, [entry!.key], 'replay-1', new Date(Date.now() + 1000))
    const [after] = await readDeadLetters(dir)
    assert.equal(after!.status, 'replayed')
    assert.ok(after!.replayedAt)
  })

  test('hostile marker lines written by an older version do not stall it either', async () => {
    const dir = storeDir()
    const now = new Date()
    await appendDeadLetters(dir, poisonEntries(record('req-1', now.toISOString()), now), { now })
    const [entry] = await readDeadLetters(dir)
    await appendMarkers(dir, [{ marker: 'failed-again', key: entry!.key, at: '~', requestId: 'req-9', attempts: 1, reason: 'x' }])
    await markReplayed(dir, [entry!.key], 'replay-1', new Date(now.getTime() + 1000))
    assert.equal((await readDeadLetters(dir))[0]!.status, 'replayed')
  })

  test('a discard is final: the same message failing again raises its attempts, and it stays discarded', async () => {
    const dir = storeDir()
    const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s))
    await appendDeadLetters(dir, poisonEntries(record('req-1', t(0).toISOString()), t(0)), { now: t(0) })
    const [entry] = await readDeadLetters(dir)
    await appendMarkers(dir, [{ marker: 'discarded', key: entry!.key, at: t(10).toISOString(), requestId: 'discard-1', note: 'test data' }])
    assert.equal((await readDeadLetters(dir))[0]!.status, 'discarded')
    await appendDeadLetters(dir, poisonEntries(record('req-2', t(20).toISOString()), t(20)), { now: t(20) })
    const [after] = await readDeadLetters(dir)
    assert.deepEqual([after!.status, after!.discardedAt, after!.attempts], ['discarded', t(10).toISOString(), 2])
  })

  test('replayed, then failing again, is pending again; dead-lettered by redrive is final', async () => {
    const dir = storeDir()
    const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s))
    await appendDeadLetters(dir, poisonEntries(record('req-1', t(0).toISOString()), t(0)), { now: t(0) })
    const [entry] = await readDeadLetters(dir)
    const key = entry!.key
    await markReplayed(dir, [key], 'replay-1', t(10))
    await appendDeadLetters(dir, poisonEntries(record('req-2', t(20).toISOString()), t(20)), { now: t(20) })
    assert.equal((await readDeadLetters(dir))[0]!.status, 'pending')
    await appendMarkers(dir, [{ marker: 'dead-lettered', key, at: t(30).toISOString(), requestId: 'timer-1', reason: 'poison after all' }])
    await appendDeadLetters(dir, poisonEntries(record('req-3', t(40).toISOString()), t(40)), { now: t(40) })
    const [last] = await readDeadLetters(dir)
    assert.deepEqual(
      [last!.status, last!.deadLetteredAt, last!.deadLetteredReason, last!.redrive?.stopped, last!.attempts],
      ['dead-lettered', t(30).toISOString(), 'poison after all', true, 3],
    )
  })

  test('redrive markers: attempts counted, the next attempt kept, null stops it', async () => {
    const dir = storeDir()
    const now = new Date()
    await appendDeadLetters(dir, poisonEntries(record('req-1', now.toISOString()), now), { now })
    const [entry] = await readDeadLetters(dir)
    const key = entry!.key
    const at = now.toISOString()
    const next = new Date(now.getTime() + 60_000).toISOString()
    await appendMarkers(dir, [
      { marker: 'redrive-failed', key, at, requestId: 'timer-1', attempt: 1, error: 'broker down', nextAttemptAt: next },
    ])
    assert.deepEqual((await readDeadLetters(dir))[0]!.redrive, {
      attempts: 1,
      stopped: false,
      nextAttemptAt: next,
      lastError: 'broker down',
    })
    await appendMarkers(dir, [
      {
        marker: 'redrive-failed',
        key,
        at: new Date(now.getTime() + 1).toISOString(),
        requestId: 'timer-2',
        attempt: 2,
        error: 'poison',
        nextAttemptAt: null,
      },
    ])
    assert.equal((await readDeadLetters(dir))[0]!.redrive?.stopped, true)
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
