// Turns (shared/dead-letters/store/turns.ts) on a real file system: who may act on an entry, one at a
// time. A turn is taken by one conditional write, so racers never both hold one; a lapsed turn is taken
// over without a sleep; and whoever takes a turn learns what a turn it did not see left the entry as.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { DeadLetterStore } from '../../../shared/dead-letters/store/store.js'
import { FakeClock } from '../mqtt/fakes.js'

const KEY = 'a'.repeat(32)
const HOUR = 3_600_000
function store() {
  const clock = new FakeClock()
  const s = new DeadLetterStore(mkdtempSync(join(tmpdir(), 'dl-turns-')), { clock, deadline: clock.now() + 10 * HOUR })
  return { s, clock }
}

describe('turns', () => {
  test('a free entry: taken; another is told who holds it and until when, and cannot take it', async () => {
    const { s, clock } = store()
    const until = clock.now() + HOUR
    assert.deepEqual(await s.takeTurn(KEY, 'run-a', until, 0), { kind: 'held', turn: 1 })
    assert.deepEqual(await s.takeTurn(KEY, 'run-b', until, 0), { kind: 'busy', holder: 'run-a', until: new Date(until).toISOString() })
  })

  test('a turn without an end is refused: it would never lapse', async () => {
    const { s } = store()
    await assert.rejects(s.takeTurn(KEY, 'run-a', Number.POSITIVE_INFINITY, 0), /a turn needs a finite end/)
  })

  test('ten takers at once: exactly one holds the turn', async () => {
    const { s, clock } = store()
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => s.takeTurn(KEY, `run-${i}`, clock.now() + HOUR, 0)))
    const held = outcomes.filter((o) => o.kind === 'held')
    assert.equal(held.length, 1, JSON.stringify(outcomes))
    assert.ok(outcomes.every((o) => o.kind === 'held' || o.holder === `run-${outcomes.indexOf(held[0]!)}`))
  })

  test('a turn past its until (its holder crashed) is taken over by exactly one of ten, at once, without a sleep', async () => {
    const { s, clock } = store()
    await s.takeTurn(KEY, 'crashed', clock.now() + 1000, 0)
    clock.advance(1001)
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => s.takeTurn(KEY, `run-${i}`, clock.now() + HOUR, 0)))
    assert.deepEqual(
      outcomes.filter((o) => o.kind === 'held'),
      [{ kind: 'held', turn: 2, since: 'lapsed' }],
    )
  })

  test('one who read the entry before a turn it did not see is told what that turn left it as', async () => {
    const { s, clock } = store()
    const until = clock.now() + HOUR
    // A discard takes turn 1 and ends it; a redrive that read the entry before (turn 0) comes next.
    await s.takeTurn(KEY, 'discard', until, 0)
    await s.endTurn(KEY, 1, 'discarded')
    assert.deepEqual(await s.takeTurn(KEY, 'redrive', until, 0), { kind: 'held', turn: 2, since: 'discarded' })
    await s.endTurn(KEY, 2, 'discarded')
    // One that read it after turn 2 has nothing new to learn.
    assert.deepEqual(await s.takeTurn(KEY, 'replay', until, 2), { kind: 'held', turn: 3 })
    assert.deepEqual(
      readdirSync(s.keyDir(KEY)).sort(),
      ['turn-1', 'turn-1.discarded', 'turn-2', 'turn-2.discarded', 'turn-3'],
      'turns are never rewritten or removed: a racer with an old view asks for one that exists',
    )
  })

  test('a lapsed turn with no end is told as lapsed, not as what an ended one before it left: it may have acted since', async () => {
    const { s, clock } = store()
    await s.takeTurn(KEY, 'redrive', clock.now() + HOUR, 0)
    await s.endTurn(KEY, 1, 'pending')
    await s.takeTurn(KEY, 'crashed', clock.now() + 1000, 1)
    clock.advance(1001)
    assert.deepEqual(await s.takeTurn(KEY, 'replay', clock.now() + HOUR, 0), { kind: 'held', turn: 3, since: 'lapsed' })
  })

  test('a torn turn file counts as lapsed', async () => {
    const { s, clock } = store()
    await s.takeTurn(KEY, 'run-a', clock.now() + HOUR, 0)
    writeFileSync(join(s.keyDir(KEY), 'turn-1'), '{"holder":"tor')
    assert.deepEqual(await s.takeTurn(KEY, 'run-b', clock.now() + HOUR, 0), { kind: 'held', turn: 2, since: 'lapsed' })
  })
})
