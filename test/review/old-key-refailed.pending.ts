// Pending: a known bug found by review (2026-12-07); fails on the current code; see the closing note.
// Review finding: a message whose entry was stored more than DEAD_LETTER_REDRIVE_MAX_AGE plus a day ago and
// was delivered then, and that fails transiently again (RocketMQ redelivers it, a consumer offset reset), is
// recorded as a failed-again marker on the old entry (store.ts put(): "stored" is one stat of keys/). The
// entry is pending again, transient, but redrive reads only the files of its window (fromDay), so it never
// sends it and never expires it; retention then removes it with its old day file while the failure is recent.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { messageKey } from '../../shared/dead-letters/store/keys.js'
import { type BridgeSender, redrive } from '../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-refailed-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const DAY = 24 * 3_600_000
const event = { id: 'e-M', specversion: '1.0', data: { topic: 'T', systemProperties: { UNIQ_KEY: 'M' }, userProperties: {}, body: 'M' } }

function transient(requestId: string, at: string): NewEntry {
  return {
    ...{ key: messageKey('M', 0, event), reason: 'not acknowledged', source: 'async-destination', failure: 'transient' },
    ...{ requestId, messageId: 'M', firstFailureAt: at, lastFailureAt: at, attempts: 3, event },
  }
}

test('a message that fails transiently again, days after its entry was delivered, is redriven', async () => {
  const clock = new FakeClock(Date.parse('2024-01-01T10:00:00.000Z'))
  const store = (deadline?: number) => new DeadLetterStore(dir, { clock, writer: 'deadletter01', ...(deadline ? { deadline } : {}) })
  const sent: string[] = []
  const send: BridgeSender = async (e) => {
    sent.push(e.toString('utf8'))
    return { published: 1, deadLettered: 0 }
  }
  const options = { maxAgeMs: DAY, backoffMs: 60_000, send }
  // Day 1: stored, redriven, delivered.
  await store().put([transient('req-1', '2024-01-01T09:59:00.000Z')])
  clock.advance(10 * 60_000)
  assert.equal((await redrive(store(clock.now() + 60_000), { ...options, requestId: 'timer-1' })).replayed, 1)
  // Day 6: the same message fails again; the dead-letter function records it on the old entry.
  clock.advance(5 * DAY)
  const put = await store().put([transient('req-2', new Date(clock.now() - 60_000).toISOString())])
  assert.deepEqual(put.outcomes, ['failed-again'])
  const [entry] = await readDeadLetters(dir, { clock })
  assert.equal(entry?.status, 'pending', 'the entry is pending again, as markers.ts folds it')
  // The next timer runs.
  sent.length = 0
  clock.advance(10 * 60_000)
  const r = await redrive(store(clock.now() + 60_000), { ...options, requestId: 'timer-2' })
  assert.equal(sent.length + r.expired, 1, `redrive neither sent nor expired the pending transient entry: ${JSON.stringify(r)}`)
})

// Closing note: left unfixed on review-dl (2026-12-07), for lack of time after findings 1-6. A fix has to let
// redrive find an entry outside its read window through a recent failed-again marker (the markers of the
// window name its key: read that key's entry line from the older file, or store a fresh line for it), and keep
// retention from removing an entry whose failure is recent. Rename back to .test.ts once it passes.
