// The fleet rate limiter's edge with the invocation's deadline: a deadline that passes between the limiter's
// own check and the store call is "no permit before the deadline" (0), not a failing store; a store that fails
// is still an error (nothing goes out unchecked). The store itself is tested on a real Redis (scripts.test.ts).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { FleetStoreError } from '../../../shared/errors.js'
import type { FleetConnection } from '../../../shared/fleet/connection.js'
import { FleetRateLimiter } from '../../../shared/fleet/rate-limiter.js'
import { FakeClock } from '../mqtt/fakes.js'

const URL = 'redis://127.0.0.1:6379'
const failing = (err: Error) => ({ run: () => Promise.reject(err) }) as unknown as FleetConnection

describe('fleet rate limiter and the deadline', () => {
  test('the deadline passed before the store was asked: 0 permits, no error', async () => {
    const clock = new FakeClock()
    const limiter = new FleetRateLimiter(failing(new FleetStoreError(URL, 'was not asked', true)), 100, 'me', clock)
    assert.equal(await limiter.acquire(10, clock.now() + 5), 0)
  })

  test('a store that failed is an error, whatever the deadline', async () => {
    const clock = new FakeClock()
    const limiter = new FleetRateLimiter(failing(new FleetStoreError(URL, 'refused the connection')), 100, 'me', clock)
    await assert.rejects(limiter.acquire(10, clock.now() + 5), /refused the connection/)
  })

  test('a deadline already past: 0 without asking', async () => {
    const clock = new FakeClock()
    let asked = 0
    const connection = {
      run: () => {
        asked++
        return Promise.resolve([[10, 0]])
      },
    } as unknown as FleetConnection
    assert.equal(await new FleetRateLimiter(connection, 100, 'me', clock).acquire(10, clock.now()), 0)
    assert.equal(asked, 0)
  })
})
