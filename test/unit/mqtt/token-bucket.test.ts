// MQTT_RATE_LIMIT on a fake clock: a sender that writes whenever the bucket allows and otherwise sleeps
// as a real timer does (never under 1 ms, whole milliseconds, and late by up to `lateMs`).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { TokenBucket } from '../../../shared/mqtt/token-bucket.js'

/** Send times (ms from 0) over `spanMs` of the clock; `late(i)` is how late the i-th timer fires. */
function run(rate: number, spanMs: number, late: (i: number) => number): number[] {
  const bucket = new TokenBucket(rate)
  const sent: number[] = []
  let now = 0
  let timers = 0
  while (now < spanMs) {
    const wait = bucket.take(now)
    if (wait === 0) {
      sent.push(now)
      continue
    }
    assert.ok(Number.isInteger(wait) && wait >= 1, `a sleep a timer cannot do: ${wait} ms`)
    now += wait + late(timers++)
  }
  return sent
}

/** A fixed pseudo-random sequence, so a failure reproduces. */
function lateness(maxMs: number, seed = 7): (i: number) => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * maxMs
  }
}

const RATES = [10, 20, 100, 500, 800, 1000, 2000, 5000, 10_000]

describe('rate limit (MQTT_RATE_LIMIT)', () => {
  for (const rate of RATES) {
    test(`${rate} msg/s: over 2 s with timers up to 3 ms late, the rate achieved is within -10 % and +20 %`, () => {
      const sent = run(rate, 2000, lateness(3))
      const achieved = sent.length / 2
      assert.ok(achieved >= rate * 0.9 && achieved <= rate * 1.2, `${achieved} msg/s for a setting of ${rate}`)
    })
  }

  test('a timer late by a whole burst loses nothing it can make up: 2,000 msg/s with timers 20 ms late still averages 2,000', () => {
    const sent = run(2000, 2000, () => 20)
    assert.ok(sent.length >= 2000 * 2 * 0.9, `${sent.length} sent in 2 s`)
  })

  test('never more than the rate plus one burst over any span (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.double({ min: 0, max: 30, noNaN: true }), (rate, maxLate) => {
        const bucket = new TokenBucket(rate)
        const sent = run(rate, 500, lateness(maxLate, rate))
        for (let i = 0, j = 0; j < sent.length; j++) {
          // The window [sent[i], sent[j]] holds j - i + 1 messages.
          while (sent[j]! - sent[i]! > 100) i++
          const span = sent[j]! - sent[i]!
          assert.ok(j - i + 1 <= bucket.burst + Math.floor((rate * span) / 1000) + 1, `${j - i + 1} in ${span} ms at ${rate}/s`)
        }
      }),
      { numRuns: 200 },
    )
  })

  test('bursts at high rates, one at a time at low ones', () => {
    assert.equal(new TokenBucket(10).burst, 1)
    assert.equal(new TokenBucket(20).burst, 1)
    assert.equal(new TokenBucket(2000).burst, 50)
    // At 2,000 msg/s, a sender wakes about 40 times a second of the clock, not 2,000.
    let wakes = 0
    run(2000, 1000, () => {
      wakes++
      return 1
    })
    assert.ok(wakes <= 250, `${wakes} timers for 2,000 messages`)
  })

  test('an idle bucket allows one burst, not the idle time’s worth', () => {
    const bucket = new TokenBucket(1000)
    let n = 0
    while (bucket.take(60_000) === 0) n++
    assert.equal(n, bucket.burst)
  })
})
