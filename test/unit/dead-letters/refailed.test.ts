// A message whose entry's line is older than redrive's window (DEAD_LETTER_REDRIVE_MAX_AGE plus a day), delivered
// then, fails again (RocketMQ redelivers it): put() records a failed-again marker on the old entry, which makes
// it pending. Redrive finds it through that marker, carries its line and markers to today's files (I8 in
// store.ts), and sends it; retention later removes the old day files but keeps the entry while its failure is
// recent. Found by review (2026-12-07): redrive read only its window, never sent nor expired it, and retention
// removed it with its old day file.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { messageKey } from '../../../shared/dead-letters/store/keys.js'
import { type BridgeSender, redrive } from '../../../shared/dead-letters/store/redrive.js'
import { applyRetention } from '../../../shared/dead-letters/store/retention.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../../shared/dead-letters/store/store.js'
import { FakeClock } from '../mqtt/fakes.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const DAY = 24 * 3_600_000
const event = { id: 'e-M', specversion: '1.0', data: { topic: 'T', systemProperties: { UNIQ_KEY: 'M' }, userProperties: {}, body: 'M' } }
const KEY = messageKey('M', 0, event)

function transient(requestId: string, at: string): NewEntry {
  return {
    ...{ key: KEY, reason: 'not acknowledged', source: 'async-destination', failure: 'transient' },
    ...{ requestId, messageId: 'M', firstFailureAt: at, lastFailureAt: at, attempts: 3, event },
  }
}

/** Stored on day 1 and delivered by redrive then; on day 6 the same message fails again, in another request. */
async function refailedAfterDays() {
  const dir = mkdtempSync(join(tmpdir(), 'dl-refailed-'))
  dirs.push(dir)
  const clock = new FakeClock(Date.parse('2024-01-01T10:00:00.000Z'))
  const store = (deadline?: number) => new DeadLetterStore(dir, { clock, writer: 'deadletter01', ...(deadline ? { deadline } : {}) })
  const sent: string[] = []
  const answers: Array<{ published: number; deadLettered: number }> = []
  const send: BridgeSender = async (e) => {
    sent.push(e.toString('utf8'))
    return answers.shift() ?? { published: 1, deadLettered: 0 }
  }
  const run = (requestId: string) => {
    clock.advance(10 * 60_000)
    return redrive(store(clock.now() + 60_000), { maxAgeMs: DAY, backoffMs: 60_000, send, requestId })
  }
  await store().put([transient('req-1', '2024-01-01T09:59:00.000Z')])
  assert.equal((await run('timer-1')).replayed, 1)
  clock.advance(5 * DAY)
  const put = await store().put([transient('req-2', new Date(clock.now() - 60_000).toISOString())])
  assert.deepEqual(put.outcomes, ['failed-again'])
  const [entry] = await readDeadLetters(dir, { clock })
  assert.equal(entry?.status, 'pending', 'the entry is pending again, as markers.ts folds it')
  sent.length = 0
  return { dir, clock, store, sent, answers, run }
}

test('a message that fails transiently again, days after its entry was delivered, is redriven', async () => {
  const { dir, clock, sent, run } = await refailedAfterDays()
  const r = await run('timer-2')
  assert.equal(sent.length, 1, `redrive did not send the pending transient entry: ${JSON.stringify(r)}`)
  assert.deepEqual(JSON.parse(sent[0]!), [event], 'exactly what was received, as a batch of one')
  assert.deepEqual({ replayed: r.replayed, expired: r.expired }, { replayed: 1, expired: 0 })
  const [entry] = await readDeadLetters(dir, { clock })
  assert.equal(entry?.status, 'replayed')
  assert.deepEqual(
    entry?.history.map((h) => h.requestId),
    ['req-1', 'req-2'],
    'one entry: its carried line counts as no second report',
  )
  assert.equal((await run('timer-3')).tried, 0, 'delivered: not sent again')
  assert.equal(sent.length, 1)
})

test('an entry failing again after its line left the window is not expired by its old storedAt, and expires a max age after the failure', async () => {
  const { clock, sent, answers, run } = await refailedAfterDays()
  answers.push({ published: 0, deadLettered: 0 })
  const first = await run('timer-2')
  assert.deepEqual(
    { tried: first.tried, stillFailing: first.stillFailing, expired: first.expired },
    { tried: 1, stillFailing: 1, expired: 0 },
  )
  clock.advance(DAY)
  const later = await run('timer-3')
  assert.equal(later.expired, 1, `a max age after its latest failure it expires: ${JSON.stringify(later)}`)
  assert.equal(sent.length, 1)
})

test('retention keeps an entry whose failure is recent, and its index, when its old day files go', async () => {
  const { dir, clock, store, sent, run } = await refailedAfterDays()
  await run('timer-2')
  // 31 days after day 1: day 1's files go; the failure of day 6 is recent.
  clock.advance(26 * DAY)
  const removed = await applyRetention(store(), 30)
  assert.ok(
    removed.removedFiles.some((f) => f.startsWith('dead-letters-2024-01-01-')),
    JSON.stringify(removed),
  )
  const [entry] = await readDeadLetters(dir, { clock })
  assert.equal(entry?.key, KEY, 'the entry is still in the store')
  assert.equal(entry?.status, 'replayed', 'with what its markers said, carried with it')
  assert.deepEqual(
    entry?.history.map((h) => h.requestId),
    ['req-1', 'req-2'],
  )
  assert.ok(readdirSync(store().keyDir(KEY)).includes('turn-2.replayed'), 'its index and turns stay with it')
  // A later report is one more report of the same entry, and makes it pending: redrive sends it again.
  const put = await store().put([transient('req-3', new Date(clock.now()).toISOString())])
  assert.deepEqual(put.outcomes, ['failed-again'])
  assert.equal((await run('timer-4')).replayed, 1)
  assert.equal(sent.length, 2)
  // Once that failure is past retention too, the entry goes, index and all.
  clock.advance(31 * DAY)
  await applyRetention(store(), 30)
  assert.deepEqual(await readDeadLetters(dir, { clock }), [])
  assert.deepEqual(
    readdirSync(join(dir, 'keys')).flatMap((p) => readdirSync(join(dir, 'keys', p))),
    [],
  )
})

test('a carry cut short before its line lands, then retention in the same timer run: the entry is not lost', async () => {
  // Found by review: the carried-<day> mark used to come before the line, so retention kept the index and removed
  // the only line; a new report of the message was then a failed-again marker naming nothing.
  const { dir, clock, store } = await refailedAfterDays()
  clock.advance(7 * 60_000)
  const s = store(clock.now() + 60_000)
  const append = s.fs.appendLines.bind(s.fs)
  // The disk fills (or the NAS errs) on the carried line's append, after its markers went in.
  s.fs.appendLines = (path: string, text: string) =>
    path.includes('dead-letters-') ? Promise.reject(new Error('ENOSPC')) : append(path, text)
  const send: BridgeSender = async () => ({ published: 1, deadLettered: 0 })
  await assert.rejects(redrive(s, { maxAgeMs: DAY, backoffMs: 60_000, send, requestId: 'timer-x' }), /ENOSPC/)
  // runTimer's next step, in the same invocation: day 1's files are past a 3-day retention.
  await applyRetention(store(), 3)
  // No index is left without its line: the next report of the message is stored again, and so kept.
  const again = await store().put([transient('req-3', new Date(clock.now()).toISOString())])
  assert.deepEqual(again.outcomes, ['stored'])
  const entries = await readDeadLetters(dir, { clock })
  assert.equal(entries.length, 1)
  assert.equal(entries[0]?.status, 'pending')
  assert.equal(entries[0]?.requestId, 'req-3')
})
