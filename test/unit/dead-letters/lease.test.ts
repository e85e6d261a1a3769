// The redrive lease (shared/dead-letters/lease.ts) on a real file system: one holder at a time, a stale
// lease taken over without a moment in which there is none, and only the holder can renew or release it.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { holdsLease, releaseLease, renewLease, takeLease } from '../../../shared/dead-letters/lease.js'

const HOUR = 3_600_000
const store = () => mkdtempSync(join(tmpdir(), 'dl-lease-'))
const deadline = () => Date.now() + 10_000
const lease = (dir: string) => JSON.parse(readFileSync(join(dir, 'redrive.lease'), 'utf8')) as { holder: string; until: string }
const plant = (dir: string, text: string) => writeFileSync(join(dir, 'redrive.lease'), text)

describe('redrive lease', () => {
  test('a free store: taken whole; another run is told who holds it and until when', async () => {
    const dir = store()
    const until = Date.now() + HOUR
    assert.deepEqual(await takeLease(dir, 'run-a', until, Date.now(), deadline()), { held: true })
    assert.deepEqual(lease(dir), { holder: 'run-a', until: new Date(until).toISOString() })
    assert.deepEqual(await takeLease(dir, 'run-b', Date.now() + HOUR, Date.now(), deadline()), {
      held: false,
      holder: 'run-a',
      until: new Date(until).toISOString(),
    })
  })

  test('a lease without an end is refused: it would never expire', async () => {
    await assert.rejects(takeLease(store(), 'run-a', Number.POSITIVE_INFINITY, Date.now(), deadline()), /needs a finite end/)
  })

  test('ten runs taking over one stale lease at once: exactly one holds it, and the file names that one', async () => {
    const dir = store()
    plant(dir, JSON.stringify({ holder: 'crashed', until: new Date(Date.now() - HOUR).toISOString() }))
    const names = Array.from({ length: 10 }, (_, i) => `run-${i}`)
    const outcomes = await Promise.all(names.map((n) => takeLease(dir, n, Date.now() + HOUR, Date.now(), deadline())))
    const holders = names.filter((_, i) => outcomes[i]!.held)
    assert.equal(holders.length, 1, JSON.stringify(outcomes))
    assert.equal(lease(dir).holder, holders[0])
  })

  test('taking over a stale (or torn) lease never leaves a moment without one', async () => {
    for (const stale of [JSON.stringify({ holder: 'crashed', until: new Date(Date.now() - HOUR).toISOString() }), '{"holder":"tor']) {
      const dir = store()
      plant(dir, stale)
      let absent = 0
      let watching = true
      const watch = () => {
        if (!existsSync(join(dir, 'redrive.lease'))) absent++
        if (watching) setImmediate(watch)
      }
      watch()
      const outcome = await takeLease(dir, 'run-a', Date.now() + HOUR, Date.now(), deadline())
      watching = false
      assert.deepEqual(outcome, { held: true })
      assert.equal(absent, 0, `the lease was missing ${absent} times while it was taken over`)
    }
  })

  test('only the holder renews or releases it', async () => {
    const dir = store()
    await takeLease(dir, 'run-a', Date.now() + 1000, Date.now(), deadline())
    assert.equal(await renewLease(dir, 'run-b', Date.now() + HOUR, deadline()), false)
    await releaseLease(dir, 'run-b', deadline())
    assert.equal(await holdsLease(dir, 'run-a', deadline()), true)
    const later = Date.now() + HOUR
    assert.equal(await renewLease(dir, 'run-a', later, deadline()), true)
    assert.equal(lease(dir).until, new Date(later).toISOString())
    await releaseLease(dir, 'run-a', deadline())
    assert.ok(!existsSync(join(dir, 'redrive.lease')))
  })
})
