// DEAD_LETTER_RETENTION_DAYS (shared/dead-letters/retention.ts): day files past retention go, with their
// index, so the same message arriving again is stored anew; nothing younger is touched.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { poisonEntries } from '../../../shared/dead-letters/entries.js'
import { keyDir } from '../../../shared/dead-letters/layout.js'
import { clearGroup } from '../../../shared/dead-letters/parts.js'
import type { PoisonRecord } from '../../../shared/dead-letters/record.js'
import { applyRetention } from '../../../shared/dead-letters/retention.js'
import { appendDeadLetters, markReplayed, readDeadLetters } from '../../../shared/dead-letters/store.js'

const day = (d: number) => new Date(Date.UTC(2024, 0, d, 12))

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
    await appendDeadLetters(dir, poisonEntries(record(['OLD-1', 'OLD-2'], day(1)), day(1)), { now: day(1), writer: 'a' })
    await appendDeadLetters(dir, poisonEntries(record(['OLD-3'], day(1)), day(1)), { now: day(1), writer: 'b' })
    await appendDeadLetters(dir, poisonEntries(record(['KEEP-1'], day(20)), day(20)), { now: day(20), writer: 'a' })
    const [old] = await readDeadLetters(dir)
    await markReplayed(dir, [old!.key], 'replay-1', day(2))
    const keptBefore = (await readDeadLetters(dir)).filter((e) => e.messageId === 'KEEP-1')

    // On day 32, 30 days of retention keep day 2 and later.
    const result = await applyRetention(dir, 30, day(32), Number.POSITIVE_INFINITY)
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
    assert.equal(existsSync(keyDir(dir, old!.key)), false, 'its index went with it')

    // The same message arriving again is a new dead letter, not a duplicate of a removed one.
    const again = await appendDeadLetters(dir, poisonEntries(record(['OLD-1', 'OLD-2'], day(1)), day(32)), { now: day(32) })
    assert.deepEqual(again.outcomes, ['stored', 'stored'])
  })

  test('a file of exactly the last kept day stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-retention-'))
    await appendDeadLetters(dir, poisonEntries(record(['EDGE'], day(2)), day(2)), { now: day(2), writer: 'a' })
    const result = await applyRetention(dir, 30, day(32), Number.POSITIVE_INFINITY)
    assert.deepEqual([result.removedEntries, result.keptFrom], [0, '2024-01-02'])
    assert.equal((await readDeadLetters(dir)).length, 1)
  })

  test('the record of part groups already stored goes by the same retention', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-retention-'))
    await clearGroup(dir, 'a'.repeat(32), day(1), Number.POSITIVE_INFINITY)
    await clearGroup(dir, 'b'.repeat(32), day(20), Number.POSITIVE_INFINITY)
    const result = await applyRetention(dir, 30, day(32), Number.POSITIVE_INFINITY)
    assert.equal(result.removedPartGroups, 1)
    assert.deepEqual(readdirSync(join(dir, 'parts-done')), ['b'.repeat(32)])
  })
})
