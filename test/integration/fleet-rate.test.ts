// FLEET_RATE_LIMIT with two instances (processes loading the bundle) publishing at once through one Redis. The
// bound is checked on what the store granted and from when, by its own clock (its grant log), not on
// wall-clock time measured here.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { assertExactlyOnce, commands, type FleetWorld, fleetWorld, needsFleet } from '../helpers/fleet.js'

let world: FleetWorld

const RATE = 400
/** A tenth of a second's worth (shared/fleet/rate-limiter.ts). */
const BURST = RATE / 10
const REFILL_MS = 100

interface Grant {
  who: string
  want: number
  granted: number
  /** When the grant may be used: when it was asked for plus the delay the store named, on the store's clock (ms). */
  from: number
}

describe('the fleet rate limit, shared by two instances', needsFleet(), () => {
  before(async () => {
    world = await fleetWorld()
  })
  after(async () => {
    await world?.close()
  })

  test(`two instances publishing at once get ${RATE} msg/s together, never more than one burst over, a round trip per refill`, async () => {
    const a = world.instance({ FLEET_RATE_LIMIT: String(RATE) })
    const b = world.instance({ FLEET_RATE_LIMIT: String(RATE) })
    const one = commands(200, 'RATE-A-')
    const two = commands(200, 'RATE-B-')
    const [ra, rb] = await Promise.all([a.handle(one.event, 'rate-a'), b.handle(two.event, 'rate-b')])
    assert.deepEqual([ra.error, ra.summary?.published, rb.error, rb.summary?.published], [undefined, 200, undefined, 200])

    const redis = await world.redis.client()
    const log: Grant[] = (await redis.xrange('rmqb:{rate}:log', '-', '+')).map(([, fields]) => {
      const f: Record<string, string> = {}
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
      return { who: f['who']!, want: Number(f['want']), granted: Number(f['granted']), from: Number(f['at']) + Number(f['delay']) }
    })
    log.sort((x, y) => x.from - y.from)
    // Every message had a permit, and no permit went unused.
    assert.equal(
      log.reduce((n, g) => n + g.granted, 0),
      400,
    )
    const instances = new Set(log.filter((g) => g.granted > 0).map((g) => g.who))
    assert.equal(instances.size, 2, 'both instances were granted permits')
    // One round trip, one grant: never refused and asked again, never more than a burst.
    for (const g of log) assert.ok(g.granted === g.want && g.want <= BURST, `not a whole grant of at most a burst: ${JSON.stringify(g)}`)
    // Whole bursts but for each batch's last grant (of 200 = 5 × 40, none).
    assert.equal(log.filter((g) => g.want < BURST).length, 0)

    // Over every interval of the store's clock, at most the rate times its length plus one burst. Exact, with no
    // slack: the bucket counts thousandths of a permit, so every delay it names is a whole millisecond, not one late.
    for (let i = 0; i < log.length; i++) {
      let sum = 0
      for (let j = i; j < log.length; j++) {
        sum += log[j]!.granted
        const allowed = BURST + (RATE * (log[j]!.from - log[i]!.from)) / 1000
        assert.ok(sum <= allowed, `${sum} permits usable between ${log[i]!.from} and ${log[j]!.from}, more than ${allowed}`)
      }
    }
    // At most one round trip per refill: the fleet's grants are a refill apart, after the first (a full bucket).
    const span = log.at(-1)!.from - log[0]!.from
    assert.ok(log.length <= Math.floor(span / REFILL_MS) + 2, `${log.length} round trips in ${span} ms`)
    await world.settle([...one.expected, ...two.expected])
    assertExactlyOnce(world.sub, [...one.expected, ...two.expected])
  })
})
