// The fleet store failing, and instances dying: the store unreachable, Redis killed mid-batch, and a claim left
// by a killed instance taken over once its invocation's time is up. Real Redis, real Mosquitto, bundle processes.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { Summary } from '../../shared/bridge/summary.js'
import type { Answer, Instance } from '../helpers/bundle-instance.js'
import { arrivals, assertExactlyOnce, commands, events, type FleetWorld, fleetWorld, needsFleet } from '../helpers/fleet.js'
import { freePort } from '../helpers/ports.js'
import { ORDERED_RULES, orderedMessage } from '../helpers/scenario.js'
import { subscribe } from '../helpers/subscriber.js'

let world: FleetWorld

function counts(a: Answer): Summary {
  const s = a.summary ?? (events(a.lines, 'bridge.invocation')[0] as unknown as Summary | undefined)
  assert.ok(s, `no summary and no bridge.invocation line: ${a.error ?? ''}`)
  return s
}

/** Nothing of the store's password in anything the instance said. */
function assertNoPassword(a: Answer): void {
  const text = `${a.error ?? ''}\n${a.lines.join('\n')}`
  assert.ok(!text.includes(world.redis.password), 'the store password appears in the output')
}

/** The message IDs of the keys a CLAIM script was run on (MONITOR's view: EVAL or EVALSHA, numkeys, keys). */
function claimedIds(commands: string[][]): Set<string> {
  const ids = new Set<string>()
  for (const c of commands) {
    if (!/^eval(sha)?$/i.test(c[0] ?? '')) continue
    const keys = c.slice(3, 3 + Number(c[2]))
    if (!keys[0]?.startsWith('rmqb:o:')) continue
    for (const k of keys.slice(1)) {
      const m = /^rmqb:m:\{[^}]+\}:(.*):[^:]+$/.exec(k)
      if (m) ids.add(m[1]!)
    }
  }
  return ids
}

/**
 * An instance whose broker accepts the connection and never answers, handed `event`: it claims, connects and
 * hangs. Resolves once it connected, so its claims are in the store (they come before the connection).
 */
async function hangingInstance(extra: Record<string, string>, event: unknown[], requestId: string): Promise<Instance> {
  const silent: Socket[] = []
  const server = createServer((sock) => silent.push(sock))
  after(() => {
    for (const sock of silent) sock.destroy()
    server.close()
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const connected = once(server, 'connection')
  const instance = world.instance({ ...extra, MQTT_URL: `mqtt://127.0.0.1:${port}` })
  void instance.handle(event, requestId, 5)
  await connected
  return instance
}

describe('the fleet store failing, and instances dying', needsFleet(), () => {
  before(async () => {
    world = await fleetWorld()
  })
  after(async () => {
    await world?.close()
  })
  beforeEach(async () => {
    await (await world.redis.client()).flushall()
  })

  test('the store unreachable: nothing is published, and the invocation fails as transient naming FLEET_REDIS_URL', async () => {
    const a = world.instance()
    const { event, expected } = commands(50, 'DOWN-')
    await world.redis.stop()
    try {
      const r = await a.handle(event, 'down')
      assert.deepEqual([counts(r).published, counts(r).failed], [0, 50])
      assert.match(
        r.error ?? '',
        new RegExp(
          `^50 of 50 messages not delivered: 50 × the fleet store at FLEET_REDIS_URL=${world.redis.url} .*not published, so that nothing goes out unchecked`,
        ),
      )
      assertNoPassword(r)
    } finally {
      await world.redis.start()
    }
    // The same batch once the store is back: all of it, once.
    const again = await a.handle(event, 'down-retry')
    assert.equal(again.summary?.published, 50)
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('Redis killed mid-batch: the invocation fails as transient, and every message that arrived had been claimed first', async () => {
    // The fleet's rate keeps the batch going long enough to be cut: a grant of 50 every 100 ms.
    const a = world.instance({ FLEET_RATE_LIMIT: '500' })
    const { event, expected } = commands(400, 'KILLED-')
    const monitor = await world.redis.monitor()
    const running = a.handle(event, 'killed')
    await world.sub.waitUntil((got) => got.some((m) => m.payload.toString().startsWith('KILLED- #')), 20_000, 'first message of the batch')
    await world.redis.stop()
    const r = await running
    await world.redis.start()

    const s = counts(r)
    assert.ok(s.failed > 0 && s.published < 400, `published ${s.published}, failed ${s.failed}`)
    assert.equal(s.published + s.failed, 400)
    assert.match(
      r.error ?? '',
      new RegExp(`the fleet store at FLEET_REDIS_URL=${world.redis.url} .*not published, so that nothing goes out unchecked`),
    )
    assertNoPassword(r)

    await world.settle(expected)
    const arrived = arrivals(world.sub, expected)
    assert.ok(![...arrived.values()].some((n) => n > 1), 'a message arrived twice')
    assert.equal(arrived.size, s.published)
    const claimed = claimedIds(monitor.commands)
    const unchecked = expected.filter((e, i) => arrived.has(e.payload.toString('hex')) && !claimed.has(`KILLED-${i}`))
    assert.deepEqual(unchecked, [], 'published without a claim in the store')
  })

  test('Redis killed after the claims, while the batch is published: everything claimed is delivered, and the failed settling is a warning', async () => {
    // MQTT_RATE_LIMIT keeps the publishing going long enough to kill the store behind it.
    const a = world.instance({ MQTT_RATE_LIMIT: '100' })
    const { event, expected } = commands(60, 'UNSETTLED-')
    const running = a.handle(event, 'unsettled')
    await world.sub.waitUntil(
      (got) => got.some((m) => m.payload.toString().startsWith('UNSETTLED- #')),
      20_000,
      'first message of the batch',
    )
    await world.redis.stop()
    const r = await running
    await world.redis.start()

    assert.equal(r.error, undefined)
    assert.equal(r.summary?.published, 60)
    const warnings = events(r.lines, 'fleet.settle-failed')
    assert.equal(warnings.length, 1)
    assert.match(String(warnings[0]!['reason']), new RegExp(`^the fleet store at FLEET_REDIS_URL=${world.redis.url} failed`))
    assertNoPassword(r)
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('a claim left by a killed instance blocks the batch until its timeout, then is taken over', async () => {
    const { event, expected } = commands(60, 'ORPHAN-')
    const a = await hangingInstance({}, event, 'killed-owner')
    await a.kill()

    // Its claims: one owner record per chunk and rule, running, expiring after its 5 s function timeout.
    const redis = await world.redis.client()
    const owners = await redis.keys('rmqb:o:*')
    assert.ok(owners.length > 0)
    for (const k of owners) {
      assert.equal(await redis.get(k), 'run')
      const ttl = await redis.pttl(k)
      assert.ok(ttl > 0 && ttl <= 6000, `claim TTL ${ttl} ms for a 5 s function timeout`)
    }

    const b = world.instance()
    const blocked = await b.handle(event, 'while-claimed')
    assert.deepEqual([counts(blocked).published, counts(blocked).failed], [0, 60])
    assert.match(blocked.error ?? '', /60 × claimed by another invocation that is publishing it now/)

    // A's function timeout passes: its owner records expire (here at once, instead of waiting 6 s).
    for (const k of owners) await redis.pexpire(k, 0)
    const taken = await b.handle(event, 'after-timeout')
    assert.equal(taken.error, undefined)
    assert.equal(taken.summary?.published, 60)
    assert.deepEqual(
      events(taken.lines, 'fleet.claims-taken-over').map((l) => l['count']),
      [60],
    )
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('an ordered group with a message claimed elsewhere: what comes before it is published, it and what follows wait, and the retry keeps the order', async () => {
    const rulesFile = join(tmpdir(), `fleet-ordered-${process.pid}.yaml`)
    writeFileSync(rulesFile, ORDERED_RULES)
    const ordered = (specs: Array<[string, number]>) =>
      specs.map(([group, seq], i) =>
        orderedMessage(i, { group, suffix: `/${group}`, body: `${group}:${seq}`, uniq: `ORD-${group}-${seq}` }),
      )
    const orders = await subscribe(world.broker.url, ['orders/#'], 5)
    after(() => orders.close())
    // B claims G:1 and hangs until it is killed.
    const b = await hangingInstance({ RULES_FILE: rulesFile }, ordered([['G', 1]]), 'holds-g1')

    const a = world.instance({ RULES_FILE: rulesFile })
    const batch = ordered([
      ['G', 0],
      ['G', 1],
      ['G', 2],
      ['H', 0],
    ])
    const first = await a.handle(batch, 'ordered-busy')
    assert.deepEqual([counts(first).published, counts(first).failed], [2, 2])
    assert.match(first.error ?? '', /1 × claimed by another invocation that is publishing it now/)
    assert.match(first.error ?? '', /1 × not sent: an earlier message of its message group was not delivered/)

    // B dies; its claim is taken over once its invocation's time is up (here at once).
    await b.kill()
    const redis = await world.redis.client()
    for (const k of await redis.keys('rmqb:o:*')) if ((await redis.get(k)) === 'run') await redis.pexpire(k, 0)
    const retry = await a.handle(batch, 'ordered-retry')
    assert.equal(retry.error, undefined)
    assert.deepEqual([retry.summary?.published, retry.summary?.duplicates], [2, 2])
    const got = await orders.waitUntil((m) => m.length >= 4, 10_000, 'the four ordered messages')
    assert.deepEqual(
      got.filter((m) => m.topic === 'orders/G').map((m) => m.payload.toString()),
      ['G:0', 'G:1', 'G:2'],
    )
    assert.deepEqual(
      got.filter((m) => m.topic === 'orders/H').map((m) => m.payload.toString()),
      ['H:0'],
    )
  })
})
