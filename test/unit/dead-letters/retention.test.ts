// DEAD_LETTER_RETENTION_DAYS (shared/dead-letters/store/retention.ts): day files past retention go, with their
// index, so the same message arriving again is stored anew; nothing younger is touched.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { PoisonRecord } from '../../../shared/dead-letters/record.js'
import { poisonEntries } from '../../../shared/dead-letters/store/entries.js'
import { clearGroup } from '../../../shared/dead-letters/store/parts.js'
import { applyRetention } from '../../../shared/dead-letters/store/retention.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../../shared/dead-letters/store/store.js'
import { FakeClock } from '../mqtt/fakes.js'

const day = (d: number) => new Date(Date.UTC(2024, 0, d, 12))
/** The store in `dir` on day `d`, as writer `writer`. */
const on = (dir: string, d: number, writer?: string) =>
  new DeadLetterStore(dir, { clock: new FakeClock(day(d).getTime()), ...(writer ? { writer } : {}) })
const appendDeadLetters = (dir: string, entries: NewEntry[], o: { now: Date; writer?: string }) =>
  new DeadLetterStore(dir, { clock: new FakeClock(o.now.getTime()), ...(o.writer ? { writer: o.writer } : {}) }).put(entries)

function record(ids: string[], at: Date): PoisonRecord {
  return {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId: `req-${at.getTime()}`,
    failedAt: at.toISOString(),
    messages: ids.map((id, index) => ({ index, reason: 'bad', messageId: id, event: { data: { topic: 't', body: id } } })),
  }
}

describe('retention', () => {
  test('files older than the retention are removed with their index; younger ones stay, line for line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-retention-'))
    await appendDeadLetters(dir, poisonEntries(record(['OLD-1', 'OLD-2'], day(1)), day(1).getTime()), { now: day(1), writer: 'a' })
    await appendDeadLetters(dir, poisonEntries(record(['OLD-3'], day(1)), day(1).getTime()), { now: day(1), writer: 'b' })
    await appendDeadLetters(dir, poisonEntries(record(['KEEP-1'], day(20)), day(20).getTime()), { now: day(20), writer: 'a' })
    const [old] = await readDeadLetters(dir)
    await on(dir, 2).mark([{ marker: 'replayed', key: old!.key, requestId: 'replay-1', turn: 1 }])
    const keptBefore = (await readDeadLetters(dir)).filter((e) => e.messageId === 'KEEP-1')

    // On day 32, 30 days of retention keep day 2 and later.
    const result = await applyRetention(on(dir, 32), 30)
    assert.equal(result.removedEntries, 3)
    assert.deepEqual(result.removedFiles.sort(), ['dead-letters-2024-01-01-a.jsonl', 'dead-letters-2024-01-01-b.jsonl'])
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.endsWith('.jsonl'))
        .map((f) => f.replace(/-[0-9a-f]{12}\.jsonl$/, '-<writer>.jsonl'))
        .sort(),
      ['dead-letters-2024-01-20-a.jsonl', 'markers-2024-01-02-<writer>.jsonl'],
      'the marker of day 2 is within retention: kept (it is about a removed entry, and ignored)',
    )
    assert.deepEqual(await readDeadLetters(dir), keptBefore, 'the younger entry, unchanged')
    assert.equal(existsSync(on(dir, 32).keyDir(old!.key)), false, 'its index went with it')

    // The same message arriving again is a new dead letter, not a duplicate of a removed one.
    const again = await appendDeadLetters(dir, poisonEntries(record(['OLD-1', 'OLD-2'], day(1)), day(32).getTime()), { now: day(32) })
    assert.deepEqual(again.outcomes, ['stored', 'stored'])
  })

  test('a file of exactly the last kept day stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-retention-'))
    await appendDeadLetters(dir, poisonEntries(record(['EDGE'], day(2)), day(2).getTime()), { now: day(2), writer: 'a' })
    const result = await applyRetention(on(dir, 32), 30)
    assert.deepEqual([result.removedEntries, result.keptFrom], [0, '2024-01-02'])
    assert.equal((await readDeadLetters(dir)).length, 1)
  })

  test('the record of part groups already stored goes by the same retention', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-retention-'))
    await clearGroup(on(dir, 1), 'a'.repeat(32))
    await clearGroup(on(dir, 20), 'b'.repeat(32))
    const result = await applyRetention(on(dir, 32), 30)
    assert.equal(result.removedPartGroups, 1)
    assert.deepEqual(readdirSync(join(dir, 'parts-done')), ['b'.repeat(32)])
  })
})
