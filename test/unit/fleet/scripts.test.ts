// The store's scripts on a real Redis (shared/fleet/scripts.ts): each state of a message key and of its owner
// record, and the token bucket. Time is moved by rewriting the store's own state, never by sleeping.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import type Redis from 'ioredis'
import { claimCalls, claimStates, settleCalls } from '../../../shared/fleet/claims.js'
import { FleetConnection } from '../../../shared/fleet/connection.js'
import { messageKey, RATE_BUCKET, RATE_LOG } from '../../../shared/fleet/keys.js'
import { type RedisServer, startRedis } from '../../helpers/redis.js'
import { needsRedis } from '../../helpers/requirements.js'

let redis: RedisServer
let direct: Redis
let conn: FleetConnection
const WINDOW = 3_600_000
const soon = () => Date.now() + 10_000

const members = (ids: string[]) => ids.map((id) => ({ ruleId: 'commands', key: messageKey('commands', id, 'fp') }))

async function claim(ids: string[], owner: string, ttl = 30_000) {
  const m = members(ids)
  const { calls, positions } = claimCalls(m, owner, ttl, WINDOW)
  return claimStates(m, positions, await conn.run(calls, soon(), 'claim'))
}

async function settle(ids: string[], owner: string, delivered: (i: number) => boolean) {
  const m = members(ids)
  const states = m.map(() => 'claimed' as const)
  await conn.run(settleCalls(m, states, delivered, owner, WINDOW).calls, soon(), 'settle')
}

async function rate(want: number, maxDelay = 10_000, rateLimit = 100, burst = 10): Promise<[number, number]> {
  const [reply] = await conn.run(
    [{ script: 'fleetRate', keys: [RATE_BUCKET, RATE_LOG], args: [rateLimit, burst, want, maxDelay, 'test'] }],
    soon(),
    'rate',
  )
  return reply as [number, number]
}

describe('the fleet store scripts on Redis', needsRedis(), () => {
  before(async () => {
    redis = await startRedis()
    direct = await redis.client()
    conn = new FleetConnection({
      url: redis.url,
      host: '127.0.0.1',
      port: redis.port,
      db: 0,
      password: redis.password,
      windowMs: WINDOW,
      rateLimit: 0,
    })
  })
  after(async () => {
    await conn?.close()
    await redis?.stop()
  })
  beforeEach(async () => {
    await direct.flushall()
  })

  test('a new key is claimed for its owner`s claim TTL plus the window, its owner running until the claim TTL', async () => {
    assert.deepEqual(await claim(['A', 'B'], 'one.0', 5000), ['claimed', 'claimed'])
    assert.equal(await direct.get('rmqb:m:{commands}:A:fp'), 'one.0')
    assert.equal(await direct.get('rmqb:o:{commands}:one.0'), 'run')
    const [keyTtl, ownerTtl] = await Promise.all([direct.pttl('rmqb:m:{commands}:A:fp'), direct.pttl('rmqb:o:{commands}:one.0')])
    assert.ok(keyTtl > WINDOW && keyTtl <= WINDOW + 5000, `key TTL ${keyTtl}`)
    assert.ok(ownerTtl > 0 && ownerTtl <= 5000, `owner TTL ${ownerTtl}`)
    // The same owner asking again (a resent pipeline) still holds them.
    assert.deepEqual(await claim(['A', 'B'], 'one.0', 5000), ['claimed', 'claimed'])
  })

  test('a window shorter than the claim TTL: the key outlives its running owner, and then the window after it completes', async () => {
    // DUPLICATE_WINDOW=1s beside a function timeout of 30 s: were the key kept only the window from the claim, it
    // would be gone while its owner still publishes, and a redelivery would claim it as new and publish it again.
    const m = members(['A'])
    const { calls, positions } = claimCalls(m, 'one.0', 31_000, 1000)
    assert.deepEqual(claimStates(m, positions, await conn.run(calls, soon(), 'claim')), ['claimed'])
    const ttl = () => Promise.all([direct.pttl('rmqb:m:{commands}:A:fp'), direct.pttl('rmqb:o:{commands}:one.0')])
    const [keyTtl, runTtl] = await ttl()
    assert.ok(keyTtl >= runTtl + 1000 - 50, `the key (${keyTtl} ms) must outlive the running owner (${runTtl} ms) by the window`)
    assert.deepEqual(await claim(['A'], 'two.0'), ['busy'])
    await conn.run(settleCalls(m, ['claimed'], () => true, 'one.0', 1000).calls, soon(), 'settle')
    const [keyLeft, doneTtl] = await ttl()
    assert.ok(doneTtl > 0 && doneTtl <= 1000, `a done owner lives the window: ${doneTtl} ms`)
    assert.ok(keyLeft >= doneTtl, `the key (${keyLeft} ms) is remembered as long as its done owner (${doneTtl} ms)`)
  })

  test('claimed by a running owner: busy; once it delivered: a duplicate; what it did not deliver: released and claimable', async () => {
    await claim(['A', 'B', 'C'], 'one.0')
    assert.deepEqual(await claim(['A', 'B', 'C', 'D'], 'two.0'), ['busy', 'busy', 'busy', 'claimed'])
    await settle(['A', 'B', 'C'], 'one.0', (i) => i !== 1)
    assert.equal(await direct.get('rmqb:o:{commands}:one.0'), 'done')
    assert.ok((await direct.pttl('rmqb:o:{commands}:one.0')) > WINDOW - 60_000, 'a done owner lives for the window')
    assert.equal(await direct.exists('rmqb:m:{commands}:B:fp'), 0)
    assert.deepEqual(await claim(['A', 'B', 'C'], 'three.0'), ['duplicate', 'claimed', 'duplicate'])
  })

  test('an owner that delivered nothing leaves no record; settling never releases another owner`s key', async () => {
    await claim(['A'], 'one.0')
    // 'one.0' died; 'two.0' took A over. A late settle of 'one.0' must not free it.
    await direct.del('rmqb:o:{commands}:one.0')
    assert.deepEqual(await claim(['A'], 'two.0'), ['taken-over'])
    await settle(['A'], 'one.0', () => false)
    assert.equal(await direct.get('rmqb:m:{commands}:A:fp'), 'two.0')
    assert.equal(await direct.exists('rmqb:o:{commands}:one.0'), 0)
  })

  test('a key whose owner record expired is taken over by the next claim', async () => {
    await claim(['A', 'B'], 'dead.0', 2000)
    await direct.pexpire('rmqb:o:{commands}:dead.0', 0)
    assert.deepEqual(await claim(['A', 'B'], 'next.0'), ['taken-over', 'taken-over'])
    assert.equal(await direct.get('rmqb:m:{commands}:A:fp'), 'next.0')
  })

  test('the token bucket: a full burst at once, then reservations a refill apart, in the order asked', async () => {
    assert.deepEqual(await rate(10), [10, 0])
    const [g1, d1] = await rate(10)
    const [g2, d2] = await rate(10)
    assert.deepEqual([g1, g2], [10, 10])
    // 10 permits at 100/s: the next burst is there 100 ms after the last was taken, the one after 100 ms later.
    assert.ok(d1 > 80 && d1 <= 100, `first delay ${d1}`)
    assert.ok(d2 > d1 + 80 && d2 <= d1 + 100 + 5, `second delay ${d2}`)
  })

  test('delays are exact: 64.4 permits owed at 400/s start 161 ms later, not 162 (a float rounded up)', async () => {
    // 24.4 permits in debt: (40 + 24.4) * 1000 / 400 is 161.00000000000003 in floats. The bucket's time is set ahead of the
    // store's clock, so no refill happens before the script runs and the figure is exact.
    const [s] = await direct.time()
    await direct.hset(RATE_BUCKET, 'milli', '-24400', 'at', String((Number(s) + 60) * 1000))
    assert.deepEqual(await rate(40, 10_000, 400, 40), [40, 161])
    assert.equal(await direct.hget(RATE_BUCKET, 'milli'), '-64400')
  })

  test('a reservation that could not start in time is not made, and takes nothing', async () => {
    await rate(10)
    const before = await direct.hget(RATE_BUCKET, 'milli')
    assert.deepEqual((await rate(10, 50))[0], 0)
    // Only what the clock refilled meanwhile, nothing taken.
    assert.ok(Number(await direct.hget(RATE_BUCKET, 'milli')) >= Number(before))
  })

  test('the bucket refills at the rate, up to one burst, by the store`s clock', async () => {
    await rate(10)
    // 60 ms ago, on the store's clock: 6 tokens back.
    const [s, us] = await direct.time()
    await direct.hset(RATE_BUCKET, 'at', String(Number(s) * 1000 + Math.floor(Number(us) / 1000) - 60))
    const [granted, delay] = await rate(6)
    assert.equal(granted, 6)
    assert.ok(delay <= 1, `delay ${delay}`)
    // An hour idle: one burst, no more.
    await direct.hset(RATE_BUCKET, 'at', '0', 'milli', '0')
    assert.deepEqual(await rate(10), [10, 0])
    assert.equal((await rate(1))[1] > 0, true)
    // Every call is in the grant log: who, what it wanted and got, when, and from when.
    const log = await direct.xrange(RATE_LOG, '-', '+')
    assert.deepEqual(
      log.map(([, f]) => [f[1], f[3], f[5]]),
      [
        ['test', '10', '10'],
        ['test', '6', '6'],
        ['test', '10', '10'],
        ['test', '1', '1'],
      ],
    )
  })
})
