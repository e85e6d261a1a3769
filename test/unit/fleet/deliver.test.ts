// One batch through the fleet store (shared/fleet/deliver.ts): a message group's order when failures are
// recorded out of order (with a fake store and a fake limiter, which cut the send into slices), and what a
// failed claim leaves in a real Redis.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type Redis from 'ioredis'
import { FleetConnection } from '../../../shared/fleet/connection.js'
import { FleetRun, type PublishChunk } from '../../../shared/fleet/deliver.js'
import { messageKey } from '../../../shared/fleet/keys.js'
import type { FleetRateLimiter } from '../../../shared/fleet/rate-limiter.js'
import type { Logger } from '../../../shared/logging/logger.js'
import type { Publish } from '../../../shared/mapping/publish.js'
import type { PublishOutcome } from '../../../shared/mqtt/outcome.js'
import { type RedisServer, startRedis } from '../../helpers/redis.js'
import { needsRedis } from '../../helpers/requirements.js'

function logger(warnings: string[] = []): Logger {
  return { info() {}, debug() {}, error() {}, warn: (f: { event?: string }) => warnings.push(String(f.event)) } as unknown as Logger
}

const publishOf = (ruleId: string, index: number): Publish => ({
  ruleId,
  messageId: `M${index}`,
  index,
  topic: `${ruleId}/G`,
  qos: 1,
  retain: false,
  payload: Buffer.from(`m${index}`),
})

function runOf(connection: FleetConnection, limiter: FleetRateLimiter | undefined, expected: number, log = logger()): FleetRun {
  const now = Date.now()
  return new FleetRun(connection, limiter, 3_600_000, { deadline: now + 30_000, end: now + 32_000, token: 'me.1', log, expected })
}

describe('a message group through the fleet store', () => {
  /** m0, m1 and m2 of one group; the store answers the claim with `claimReply`; one permit per grant; the broker times m0 out. */
  async function group(claimReply: unknown[]) {
    const connection = { run: () => Promise.resolve([claimReply]) } as unknown as FleetConnection
    const limiter = { rate: 10, acquire: () => Promise.resolve(1) } as unknown as FleetRateLimiter
    const run = runOf(connection, limiter, 3)
    for (let i = 0; i < 3; i++) {
      const p = publishOf('orders', i)
      run.add({ publish: p, key: messageKey(p.ruleId, p.messageId!, 'fp'), group: 'orders\u0000G' })
    }
    const sent: string[] = []
    const pool: PublishChunk = async (items) => {
      sent.push(...items.map((p) => p.messageId!))
      const outcomes: PublishOutcome[] = items.map((p) => (p.index === 0 ? { kind: 'failed', reason: 'timed out' } : { kind: 'delivered' }))
      return { outcomes, droppedV5Properties: 0 }
    }
    const { outcomes, settled } = await run.finish(pool)
    await settled
    return { kinds: outcomes.map((o) => o.kind), sent }
  }

  test('nothing busy: m0 failing at the broker stops m1 and m2', async () => {
    assert.deepEqual(await group([]), { kinds: ['failed', 'failed', 'failed'], sent: ['M0'] })
  })

  test('m2 busy in the store, then m0 failing at the broker: m1 still waits for the retry, behind m0', async () => {
    // The claim's answer (m2 held by a running invocation: position 3, 'b') is recorded before the broker's; the
    // group must break at m0, the earlier of the two (docs/rules.md, "Ordered delivery per message group").
    assert.deepEqual(await group([3, 'b']), { kinds: ['failed', 'failed', 'failed'], sent: ['M0'] })
  })
})

describe('a topic through the fleet store, sent in slices (FLEET_RATE_LIMIT)', () => {
  /** m0, m1 and m2 of one topic, no group; one permit per grant, so one slice each; the broker answers m0 with `first`. */
  async function topic(first: PublishOutcome, claimReply: unknown[] = []) {
    const connection = { run: () => Promise.resolve([claimReply]) } as unknown as FleetConnection
    const limiter = { rate: 10, acquire: () => Promise.resolve(1) } as unknown as FleetRateLimiter
    const run = runOf(connection, limiter, 3)
    for (let i = 0; i < 3; i++) {
      const p = publishOf('plant', i)
      run.add({ publish: p, key: messageKey(p.ruleId, p.messageId!, 'fp'), group: undefined })
    }
    const sent: string[] = []
    const pool: PublishChunk = async (items) => {
      sent.push(...items.map((p) => p.messageId!))
      return { outcomes: items.map((p) => (p.index === 0 ? first : { kind: 'delivered' })), droppedV5Properties: 0 }
    }
    const { outcomes, settled } = await run.finish(pool)
    await settled
    return { outcomes, kinds: outcomes.map((o) => o.kind), sent }
  }

  test("m0 failing at the broker holds back the topic's later slices, for the retry to send them after it", async () => {
    const r = await topic({ kind: 'failed', reason: 'timed out' })
    assert.deepEqual({ kinds: r.kinds, sent: r.sent }, { kinds: ['failed', 'failed', 'failed'], sent: ['M0'] })
    assert.match((r.outcomes[1] as { reason: string }).reason, /^not sent: an earlier message of its topic was not delivered \(timed out\)/)
  })

  test('m0 refused (a dead letter) holds nothing back', async () => {
    const r = await topic({ kind: 'refused', reason: 'Packet too large' })
    assert.deepEqual({ kinds: r.kinds, sent: r.sent }, { kinds: ['refused', 'delivered', 'delivered'], sent: ['M0', 'M1', 'M2'] })
  })

  test("m0 busy (another invocation publishes it now): the rest is still delivered, as the fleet store's contract says", async () => {
    const r = await topic({ kind: 'delivered' }, [1, 'b'])
    assert.deepEqual({ kinds: r.kinds, sent: r.sent }, { kinds: ['failed', 'delivered', 'delivered'], sent: ['M1', 'M2'] })
  })
})

describe('a failed claim in a real Redis', needsRedis(), () => {
  let redis: RedisServer
  let direct: Redis
  before(async () => {
    redis = await startRedis()
    direct = await redis.client()
  })
  after(async () => {
    await redis?.stop()
  })
  const connect = () =>
    new FleetConnection({
      url: redis.url,
      host: '127.0.0.1',
      port: redis.port,
      db: 0,
      password: redis.password,
      windowMs: 3_600_000,
      rateLimit: 0,
    })

  test("one rule's script refused beside another's that ran: nothing is published, and what was claimed is given back", async () => {
    const conn = connect()
    // A value of the wrong type under beta's key makes its CLAIM fail (WRONGTYPE); alpha's, in the same pipeline, runs.
    const alpha = messageKey('alpha', 'M0', 'fp')
    const beta = messageKey('beta', 'M1', 'fp')
    await direct.hset(beta, 'not', 'a claim')
    const warnings: string[] = []
    const run = runOf(conn, undefined, 2, logger(warnings))
    run.add({ publish: publishOf('alpha', 0), key: alpha, group: undefined })
    run.add({ publish: publishOf('beta', 1), key: beta, group: undefined })
    const sent: Publish[] = []
    const { outcomes, settled } = await run.finish(async (items) => {
      sent.push(...items)
      return { outcomes: items.map(() => ({ kind: 'delivered' as const })), droppedV5Properties: 0 }
    })
    await settled
    assert.deepEqual(sent, [], 'nothing goes out unchecked')
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failed', 'failed'],
    )
    // alpha's key was claimed by this invocation: left held, it would make every retry "busy" until the claim TTL.
    assert.equal(await direct.get(alpha), null, "alpha's claim is given back")
    assert.equal(await direct.exists('rmqb:o:{alpha}:me.1.0'), 0, "alpha's owner record is gone")
    // beta's settling is refused as its claim was: said once, as a warning.
    assert.deepEqual(warnings, ['fleet.settle-failed'])
    await conn.close()
  })

  test('publishing ran past the deadline and into the last moments of the invocation: the claims are still settled', async () => {
    const conn = connect()
    const now = Date.now()
    const call = { deadline: now + 30_000, end: now + 32_000, token: 'late.1', log: logger(), expected: 1 }
    const run = new FleetRun(conn, undefined, 3_600_000, call)
    const key = messageKey('alpha', 'M0', 'fp')
    run.add({ publish: publishOf('alpha', 0), key, group: undefined })
    const { outcomes, settled } = await run.finish(async (items) => {
      // While the broker answered, the deadline passed and the invocation's end came within its settling margin.
      call.deadline = Date.now() - 1
      call.end = Date.now() + 100
      return { outcomes: items.map(() => ({ kind: 'delivered' as const })), droppedV5Properties: 0 }
    })
    await settled
    assert.equal(outcomes[0]?.kind, 'delivered')
    // Unsettled, the owner would stay 'run' until the claim TTL, and this batch's retry would be turned away as busy.
    assert.equal(await direct.get('rmqb:o:{alpha}:late.1.0'), 'done')
    assert.equal(await direct.get(key), 'late.1.0')
    await conn.close()
  })
})
