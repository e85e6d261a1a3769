// The fleet store's connection (shared/fleet/connection.ts) on a real Redis: every failure is a FleetStoreError
// naming FLEET_REDIS_URL, bounded by the deadline, without the password; a dropped connection is replaced.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createServer, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { FleetStoreError } from '../../../shared/errors.js'
import { FleetConnection, type ScriptCall } from '../../../shared/fleet/connection.js'
import { RATE_BUCKET, RATE_LOG } from '../../../shared/fleet/keys.js'
import type { FleetSettings } from '../../../shared/fleet/settings.js'
import { systemClock } from '../../../shared/mqtt/clock.js'
import { freePort } from '../../helpers/ports.js'
import { type RedisServer, startRedis } from '../../helpers/redis.js'
import { needsRedis } from '../../helpers/requirements.js'

let redis: RedisServer
const RATE: ScriptCall = { script: 'fleetRate', keys: [RATE_BUCKET, RATE_LOG], args: [1000, 100, 1, 1000, 'test'] }
const settings = (over: Partial<FleetSettings> = {}): FleetSettings => ({
  url: redis.url,
  host: '127.0.0.1',
  port: redis.port,
  db: 0,
  password: redis.password,
  windowMs: 60_000,
  rateLimit: 0,
  ...over,
})

async function failure(conn: FleetConnection, deadline = Date.now() + 5000): Promise<FleetStoreError> {
  try {
    await conn.run([RATE], deadline, 'a test call')
  } catch (err) {
    assert.ok(err instanceof FleetStoreError, String(err))
    return err
  }
  assert.fail('expected a FleetStoreError')
}

describe('the fleet store connection', needsRedis(), () => {
  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    await redis?.stop()
  })

  test('nothing listening: the error names FLEET_REDIS_URL and the address', async () => {
    const port = await freePort()
    const url = `redis://127.0.0.1:${port}`
    const err = await failure(new FleetConnection(settings({ url, port })))
    assert.match(
      err.message,
      new RegExp(`^the fleet store at FLEET_REDIS_URL=${url} failed \\(connecting to 127\\.0\\.0\\.1:${port}\\): .*ECONNREFUSED`),
    )
  })

  test('a server that never answers: the call ends at the deadline, and says so', async () => {
    const held: Socket[] = []
    const server = createServer((s) => held.push(s))
    const port = await freePort()
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    try {
      const err = await failure(new FleetConnection(settings({ url: `redis://127.0.0.1:${port}`, port })), Date.now() + 300)
      assert.match(err.message, /did not answer within \d+ ms .*the invocation's deadline came first/)
    } finally {
      for (const s of held) s.destroy()
      server.close()
    }
  })

  test("a cluster proxy that refuses the scripts' keys: the error says which parameter to set", async () => {
    // A store in proxy mode that refuses every script, as Alibaba's cluster proxy does with script_check_enable=1.
    const refusal =
      '-ERR bad lua script for redis cluster, all the keys that the script uses should be passed using the KEYS array, and KEYS should not be in expression\r\n'
    // The client's set-up commands (CLIENT SETINFO) are answered +OK, each script with the refusal.
    const open: Socket[] = []
    const server = createServer((s) => {
      open.push(s)
      s.on('data', (d: Buffer) => {
        for (const command of d.toString().split(/^\*/m).slice(1)) s.write(/^\d+\r\n\$\d+\r\neval/i.test(command) ? refusal : '+OK\r\n')
      })
    })
    const port = await freePort()
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    const conn = new FleetConnection(settings({ url: `redis://127.0.0.1:${port}`, port, password: undefined }))
    try {
      const err = await failure(conn)
      assert.match(
        err.message,
        /^the fleet store at FLEET_REDIS_URL=redis:\/\/127\.0\.0\.1:\d+ failed \(a test call\): ERR bad lua script for redis cluster/,
      )
      assert.match(err.message, /set the instance's parameter script_check_enable to 0, or connect to its direct connection address/)
    } finally {
      await conn.close()
      for (const s of open) s.destroy()
      server.close()
    }
  })

  test('a wrong password: refused, and no password in the error', async () => {
    const wrong = 'not-the-right-password-1234'
    const err = await failure(new FleetConnection(settings({ password: wrong })))
    assert.match(err.message, /WRONGPASS|NOAUTH/)
    assert.ok(!err.message.includes(wrong) && !err.message.includes(redis.password))
    const none = await failure(new FleetConnection(settings({ password: undefined })))
    assert.match(none.message, /NOAUTH/)
  })

  test('the store went away and came back: calls fail meanwhile, then the next one opens a new connection', async () => {
    const conn = new FleetConnection(settings())
    await conn.run([RATE], Date.now() + 5000, 'first')
    await redis.stop()
    // Refused, or the old socket found closed: either way a FleetStoreError naming the store.
    assert.match((await failure(conn)).message, new RegExp(`^the fleet store at FLEET_REDIS_URL=${redis.url} `))
    await redis.start()
    const [reply] = await conn.run([RATE], Date.now() + 5000, 'after the restart')
    assert.deepEqual(reply, [1, 0])
    await conn.close()
  })

  test('after sitting idle, a PING checks the connection before it is used', async () => {
    let offset = 0
    const clock = { ...systemClock, now: () => Date.now() + offset }
    const conn = new FleetConnection(settings(), clock)
    await conn.run([RATE], Date.now() + 5000, 'first')
    const before = conn.roundTrips
    await conn.run([RATE], Date.now() + 5000, 'busy')
    assert.equal(conn.roundTrips, before)
    offset = 60_000
    await conn.run([RATE], clock.now() + 5000, 'after an idle minute')
    assert.equal(conn.roundTrips, before + 1)
    await conn.close()
  })

  test('exchanges asked at once share one check: one connection attempt, and after sitting idle one PING', async () => {
    let offset = 0
    const clock = { ...systemClock, now: () => Date.now() + offset }
    const conn = new FleetConnection(settings(), clock)
    const three = () => Promise.all([1, 2, 3].map((n) => conn.run([RATE], clock.now() + 5000, `call ${n}`)))
    assert.equal((await three()).length, 3)
    assert.equal(conn.roundTrips, 1, 'one connection attempt')
    offset = 60_000
    assert.deepEqual(
      (await three()).map(([reply]) => (reply as number[])[0]),
      [1, 1, 1],
    )
    assert.equal(conn.roundTrips, 2, 'one PING')
    await conn.close()
  })

  test('on a live connection the exchange is written before run() returns, so the store works while the caller goes on', async () => {
    const conn = new FleetConnection(settings(), systemClock)
    await conn.run([RATE], Date.now() + 5000, 'warm')
    const calls = () => {
      // Another client, while this process is blocked: it sees only what was written before the block.
      const info = execFileSync('redis-cli', ['-p', String(redis.port), '--no-auth-warning', '-a', redis.password, 'INFO', 'commandstats'])
      return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info.toString())?.[1] ?? 0)
    }
    const before = calls()
    const answer = conn.run([RATE], Date.now() + 5000, 'written at once')
    assert.equal(calls(), before + 1)
    await answer
    await conn.close()
  })
  test('"not asked" is true: a call whose deadline has passed is not written, even on a live connection', async () => {
    const conn = new FleetConnection(settings())
    const direct = await redis.client()
    await conn.run([RATE], Date.now() + 5000, 'opening')
    const claim: ScriptCall = {
      script: 'fleetClaim',
      keys: ['rmqb:o:{late}:me.0', 'rmqb:m:{late}:M1:fp'],
      args: ['me.0', 30_000, 90_000, 'rmqb:o:{late}:'],
    }
    const err = await conn.run([claim], Date.now() - 1, 'a late claim').then(
      () => assert.fail('a call past its deadline was answered'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof FleetStoreError && err.notAsked, String(err))
    // The connection answers in order: once a later call is answered, anything written before it has run.
    await conn.run([RATE], Date.now() + 5000, 'a barrier')
    assert.equal(await direct.get('rmqb:m:{late}:M1:fp'), null, 'the claim called "not asked" ran, and holds its key')
    await conn.close()
  })
})
