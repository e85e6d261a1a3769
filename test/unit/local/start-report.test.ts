// npm start's line per invocation: every count a rule set can produce, filtered and expired only when present.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { showSummary } from '../../../scripts/local/start-report.js'
import type { Summary } from '../../../shared/bridge/summary.js'

const summary = (over: Partial<Summary>): Summary => ({
  ...{ requestId: 'r', received: 3, published: 3, deadLettered: 0, duplicates: 0, filtered: 0, expired: 0, failed: 0 },
  ...{ durationMs: 5, lagMs: 10, rules: { a: 3 }, droppedV5Properties: 0 },
  ...over,
})

describe('npm start: the invocation line', () => {
  test('the sample rules: no filtered or expired shown', () => {
    assert.equal(showSummary(summary({})), 'received 3, published 3 (a 3), dead-lettered 0, duplicates 0, 5 ms, lag 10 ms')
  })

  test('rules with routes and deadlines: filtered and expired counted', () => {
    assert.equal(
      showSummary(summary({ received: 5, published: 2, filtered: 1, expired: 2, rules: { a: 2 } })),
      'received 5, published 2 (a 2), dead-lettered 0, duplicates 0, filtered 1, expired 2, 5 ms, lag 10 ms',
    )
  })
})
