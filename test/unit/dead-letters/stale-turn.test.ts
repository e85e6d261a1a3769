// Turns taken over a turn the taker did not see (I5 in store.ts): a holder that marked an entry replayed but
// whose turn end did not land (its deadline came in redrive's endTurn loop, or a crash) leaves its turn to lapse.
// Whoever takes the next turn is told it lapsed, reads the entry's markers again and does not send it twice.
// Found by review (2026-12-07): the next taker learned nothing from a lapsed turn and sent the entry again.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type BridgeSender, redrive } from '../../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../../shared/dead-letters/store/store.js'
import { transientEntry } from '../../helpers/factories.js'
import { FakeClock } from '../mqtt/fakes.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const HOUR = 3_600_000

/** A and B stored (two failed invocations); `meanwhile` runs while redrive sends A, after redrive read B. */
async function redriveWith(meanwhile: (s: DeadLetterStore, b: NewEntry, clock: FakeClock) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'dl-stale-'))
  dirs.push(dir)
  const clock = new FakeClock(Date.parse('2024-01-01T10:00:00.000Z'))
  const [a, b] = [transientEntry('A', 'req-a', '2024-01-01T09:59:00.000Z'), transientEntry('B', 'req-b', '2024-01-01T09:59:30.000Z')]
  await new DeadLetterStore(dir, { clock, writer: 'bridgefailed' }).put([a, b])
  clock.advance(10 * 60_000)
  const sent: string[] = []
  const send: BridgeSender = async (event) => {
    const batch = JSON.parse(event.toString('utf8')) as Array<{ data: { body: string } }>
    sent.push(...batch.map((e) => e.data.body))
    if (sent.length === 1) await meanwhile(new DeadLetterStore(dir, { clock, writer: 'otheractor00' }), b, clock)
    return { published: batch.length, deadLettered: 0 }
  }
  const store = new DeadLetterStore(dir, { clock, deadline: clock.now() + 60_000, writer: 'timer0000000' })
  const result = await redrive(store, { maxAgeMs: 24 * HOUR, backoffMs: 60_000, send, requestId: 'timer-1' })
  return { sent, result, b: (await readDeadLetters(dir, { clock })).find((e) => e.key === b.key)! }
}

test('an entry another holder marked replayed is not sent again once that holder’s turn lapsed unended', async () => {
  const { sent, result, b } = await redriveWith(async (other, b, clock) => {
    // Another actor (a replay, another timer run) delivers B under its turn and marks it replayed; its deadline
    // passes before turn-1.replayed is written: the turn lapses open.
    const until = clock.now() + 1000
    assert.equal((await other.takeTurn(b.key, 'other-run', until, 0)).kind, 'held')
    await other.mark([{ marker: 'replayed', key: b.key, requestId: 'other-run', turn: 1 }])
    clock.advance(2000)
  })
  assert.deepEqual(sent, ['A'], 'B was delivered and marked replayed by the other actor, and redrive sent it again')
  assert.deepEqual({ replayed: result.replayed, tried: result.tried }, { replayed: 1, tried: 1 })
  assert.deepEqual({ status: b.status, replayRequestId: b.replayRequestId }, { status: 'replayed', replayRequestId: 'other-run' })
})

test('a holder that crashed before marking anything left the entry pending: the next taker sends it', async () => {
  const { sent, b } = await redriveWith(async (other, b, clock) => {
    await other.takeTurn(b.key, 'crashed-run', clock.now() + 1000, 0)
    clock.advance(2000)
  })
  assert.deepEqual(sent, ['A', 'B'])
  assert.equal(b.status, 'replayed')
})

test('a turn ended replayed by one who read the entry late says nothing of a failure reported after it', async () => {
  const { sent, b } = await redriveWith(async (other, b, clock) => {
    // The other actor replays B under turn 1; a second one that read B before that takes turn 2 and ends it
    // replayed too, with no marker of its own. Then B fails again, in another request: it is pending.
    const until = clock.now() + HOUR
    await other.takeTurn(b.key, 'replay-1', until, 0)
    await other.mark([{ marker: 'replayed', key: b.key, requestId: 'replay-1', turn: 1 }])
    await other.endTurn(b.key, 1, 'replayed')
    const [read] = (await other.readAll()).filter((e) => e.key === b.key)
    const late = await other.take([{ ...read!, status: 'pending' as const, turn: 0 }], 'replay-2', until)
    assert.deepEqual(
      late.settled.map((s) => s.status),
      ['replayed'],
    )
    clock.advance(1000)
    await other.put([transientEntry('B', 'req-b2', new Date(clock.now()).toISOString())])
  })
  // This run read B as pending before all that, and B is pending again now: it sends it.
  assert.deepEqual(sent, ['A', 'B'])
  assert.deepEqual({ status: b.status, replayRequestId: b.replayRequestId }, { status: 'replayed', replayRequestId: 'timer-1' })
})
