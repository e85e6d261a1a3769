// Exactly once across the fleet (docs/reliability.md, "Exactly once across the fleet"): bridge instances, each a
// process loading the built bundle, sharing a real Redis, publishing to a real Mosquitto, and a real subscriber
// counting what arrives.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { Summary } from '../../shared/bridge/summary.js'
import { replayEvent } from '../../shared/dead-letters/store/entry.js'
import { claimChunks } from '../../shared/fleet/chunks.js'
import type { Answer } from '../helpers/bundle-instance.js'
import { assertExactlyOnce, commands, events, type FleetWorld, fleetWorld, needsFleet } from '../helpers/fleet.js'
import { makeBatch } from '../helpers/scenario.js'

let world: FleetWorld

/** The counts of an invocation, from its summary or, when it threw, from its `bridge.invocation` line. */
function counts(a: Answer): Summary {
  const s = a.summary ?? (events(a.lines, 'bridge.invocation')[0] as unknown as Summary | undefined)
  assert.ok(s, `no summary and no bridge.invocation line: ${a.error ?? ''} ${a.lines.join('\n')}`)
  return s
}

describe('exactly once across the fleet, on Redis and Mosquitto', needsFleet(), () => {
  before(async () => {
    world = await fleetWorld()
  })
  after(async () => {
    await world?.close()
  })
  beforeEach(async () => {
    await (await world.redis.client()).flushall()
  })

  test('two instances handed the same batch at the same moment, then each retried on the other: every message arrives once', async () => {
    const a = world.instance()
    const b = world.instance()
    // Both loaded, connected to the broker and the store, before the race.
    const warm = commands(2, 'TWIN-WARM-')
    await Promise.all([a.handle(warm.event.slice(0, 1), 'a-warm'), b.handle(warm.event.slice(1), 'b-warm')])
    const { event, expected } = makeBatch(600, 'TWIN-')

    const [ra, rb] = await Promise.all([a.handle(event, 'a-1'), b.handle(event, 'b-1')])
    const [sa, sb] = [counts(ra), counts(rb)]
    // Each message was claimed by exactly one of them; the other counted it as a duplicate or failed it as busy.
    assert.equal(sa.published + sb.published, 600)
    for (const [s, r] of [
      [sa, ra],
      [sb, rb],
    ] as const) {
      assert.equal(s.published + s.duplicates + s.failed, 600)
      if (s.failed > 0) assert.match(r.error ?? '', /not delivered: \d+ × claimed by another invocation/)
      else assert.equal(r.error, undefined)
    }

    // Function Compute retries what failed; here each on the other instance. Nothing is published again.
    const retries = await Promise.all([
      ...(ra.error ? [b.handle(event, 'a-1-retry')] : []),
      ...(rb.error ? [a.handle(event, 'b-1-retry')] : []),
    ])
    for (const r of retries) {
      assert.equal(r.error, undefined)
      assert.deepEqual([r.summary!.published, r.summary!.duplicates], [0, 600])
    }
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('a batch is claimed in chunks as it is planned, then published, and all its chunks are settled in one exchange', async () => {
    const a = world.instance()
    const n = 300
    const sizes = claimChunks(n)
    const { event, expected } = commands(n, 'CHUNKED-')
    const monitor = await world.redis.monitor()
    const r = await a.handle(event, 'chunked')
    await monitor.stop()
    assert.equal(r.error, undefined)
    assert.equal(r.summary?.published, n)
    // MONITOR's view of a script: EVAL(SHA), sha, numkeys, keys (the owner record first), then its arguments.
    const scripts = monitor.commands.filter((c) => /^eval(sha)?$/i.test(c[0] ?? '') && c[3]?.startsWith('rmqb:o:'))
    const shape = scripts.map((c) => ({ keys: Number(c[2]) - 1, args: c.length - 3 - Number(c[2]) }))
    // Claims carry four arguments and every message key of their chunk; settles three, and none here (all delivered).
    assert.deepEqual(shape, [...sizes.map((keys) => ({ keys, args: 4 })), ...sizes.map(() => ({ keys: 0, args: 3 }))])
    // One round trip per claim and one settling exchange, as the bridge counts them.
    assert.deepEqual(
      events(r.lines, 'fleet.batch').map((l) => [l['claimed'], l['roundTrips']]),
      [[n, sizes.length + 1]],
    )
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('a retry on the other instance after a partial failure publishes only what the first did not', async () => {
    // A: the fleet's rate and a 1 s function timeout let it publish part of the batch before its deadline.
    const a = world.instance({ FLEET_RATE_LIMIT: '100' })
    const b = world.instance()
    const { event, expected } = commands(300, 'PARTIAL-')
    const ra = await a.handle(event, 'a-partial', 1)
    const sa = counts(ra)
    assert.ok(sa.published > 0 && sa.published < 300, `the first instance published ${sa.published} of 300`)
    assert.equal(sa.failed, 300 - sa.published)
    assert.match(ra.error ?? '', /not delivered: \d+ × no permit of FLEET_RATE_LIMIT=100 before the invocation's deadline/)

    // The failed messages' claims were released: the retry elsewhere need not wait for them to expire.
    const rb = await b.handle(event, 'a-partial-retry')
    assert.equal(rb.error, undefined)
    assert.deepEqual([rb.summary!.published, rb.summary!.duplicates], [300 - sa.published, sa.published])
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })

  test('the same message ID with different content is published; with the same content it is a duplicate, on any instance', async () => {
    const a = world.instance()
    const b = world.instance()
    const first = commands(40, 'REUSED-', 'first version')
    const second = commands(40, 'REUSED-', 'second version')
    const ra = await a.handle(first.event, 'reused-a')
    assert.equal(ra.summary?.published, 40)
    const rb = await b.handle(second.event, 'reused-b')
    assert.deepEqual([rb.summary?.published, rb.summary?.duplicates], [40, 0])
    const again = await b.handle(first.event, 'reused-b-again')
    assert.deepEqual([again.summary?.published, again.summary?.duplicates], [0, 40])
    await world.settle([...first.expected, ...second.expected])
    assertExactlyOnce(world.sub, [...first.expected, ...second.expected])
  })

  test('a redrive or a replay (the bytes both send, replayEvent) on any instance: what the fleet delivered is a duplicate, the rest is published once', async () => {
    const a = world.instance()
    const b = world.instance()
    const { event, expected } = commands(40, 'REDRIVE-')
    // The store holds all 40 as transient failures; a retry on A has since delivered the first 30.
    assert.equal(counts(await a.handle(event.slice(0, 30), 'redrive-retry')).published, 30)
    const stored = event.map((e) => ({ event: e }))
    const send = (entries: typeof stored) => JSON.parse(replayEvent(entries).toString('utf8')) as unknown[]
    // The timer's redrive reaches B, which has seen none of them: only the fleet store knows the 30.
    const redrive = await b.handle(send(stored), 'redrive')
    assert.equal(redrive.error, undefined)
    assert.deepEqual([counts(redrive).published, counts(redrive).duplicates], [10, 30])
    // npm run replay of the last 15 afterwards, on either instance: nothing goes out again.
    for (const [instance, id] of [
      [a, 'replay-a'],
      [b, 'replay-b'],
    ] as const) {
      const replay = await instance.handle(send(stored.slice(25)), id)
      assert.deepEqual([counts(replay).published, counts(replay).duplicates], [0, 15])
    }
    await world.settle(expected)
    assertExactlyOnce(world.sub, expected)
  })
})
