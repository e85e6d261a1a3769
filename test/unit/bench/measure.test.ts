import assert from 'node:assert/strict'
import { test } from 'node:test'
import { median, medianInterval } from '../../../scripts/bench/measure.js'

const ranks = (n: number) => Array.from({ length: n }, (_, i) => n - i) // descending: the function sorts

test("the median's 95 % interval is the order statistics of the published tables", () => {
  // Binomial(n, 1/2): n = 6 -> x1..x6 (96.9 %), 10 -> x2..x9 (97.9 %), 40 -> x14..x27 (96.2 %), 100 -> x40..x61 (96.5 %).
  assert.deepEqual(medianInterval(ranks(6)), [1, 6])
  assert.deepEqual(medianInterval(ranks(10)), [2, 9])
  assert.deepEqual(medianInterval(ranks(40)), [14, 27])
  assert.deepEqual(medianInterval(ranks(100)), [40, 61])
})

test('too few values for 95 %: no interval rather than a narrower one', () => {
  // Five values: even x1..x5 holds the median only 93.75 % of the time.
  assert.ok(medianInterval(ranks(5)).every(Number.isNaN))
  assert.ok(medianInterval([]).every(Number.isNaN))
})

test('the interval holds the median', () => {
  const values = [1.12, 1.05, 1.31, 0.98, 1.08, 1.1, 1.02, 1.2, 1.07, 1.15]
  const [low, high] = medianInterval(values)
  assert.ok(low <= median(values) && median(values) <= high)
  assert.deepEqual([low, high], [1.02, 1.2])
})
