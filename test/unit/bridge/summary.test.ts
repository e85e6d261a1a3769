// The pure step from records to the summary and the one decision at the end of an invocation.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { MessageResult } from '../../../shared/bridge/records.js'
import { oldestTime, type SummaryInput, summarize } from '../../../shared/bridge/summary.js'
import { DeadLetterError, DeliveryError } from '../../../shared/errors.js'
import type { ParsedEvent } from '../../../shared/events/message.js'
import type { Publish } from '../../../shared/mapping/publish.js'

function publish(index: number, ruleId = 'rule-a'): Publish {
  return { ruleId, index, messageId: `M${index}`, topic: `parent/t${index}`, qos: 1, retain: false, payload: Buffer.from('x') }
}

function input(results: MessageResult[], over: Partial<SummaryInput> = {}): SummaryInput {
  return {
    requestId: 'req-1',
    received: results.length,
    results,
    startedAt: 1000,
    publishedAt: 1040,
    finishedAt: 1050,
    oldestTime: undefined,
    droppedV5Properties: 0,
    sent: results.filter((r) => r.status === 'published' || r.status === 'failed').length,
    redact: (t) => t,
    ...over,
  }
}

describe('summarize', () => {
  test('counts every status once (filtered beside the others), per rule for published, and returns ok without failures', () => {
    const results: MessageResult[] = [
      { status: 'published', publish: publish(0, 'rule-a') },
      { status: 'published', publish: publish(1, 'rule-b') },
      { status: 'published', publish: publish(2, 'rule-a') },
      { status: 'duplicate', index: 3, ruleId: 'rule-a', messageId: 'M3', seen: 'by this instance' },
      { status: 'dead-letter', deadLetter: { index: 4, reason: 'bad qoslevel', event: {} } },
      { status: 'filtered', index: 5, ruleId: 'rule-a', messageId: 'M5' },
      { status: 'filtered', index: 6, ruleId: 'rule-b' },
    ]
    const { summary, decision } = summarize(input(results, { oldestTime: 1000 }))
    assert.deepEqual(summary, {
      requestId: 'req-1',
      received: 7,
      published: 3,
      deadLettered: 1,
      duplicates: 1,
      filtered: 2,
      expired: 0,
      failed: 0,
      durationMs: 50,
      lagMs: 40,
      rules: { 'rule-a': 2, 'rule-b': 1 },
      droppedV5Properties: 0,
    })
    assert.deepEqual(decision, { outcome: 'ok' })
  })

  test('a transient failure decides a retry: the error says how many of how many and why, most frequent reason first', () => {
    const results: MessageResult[] = [
      { status: 'published', publish: publish(0) },
      { status: 'failed', publish: publish(1), reason: 'timed out' },
      { status: 'failed', publish: publish(2), reason: 'lost' },
      { status: 'failed', publish: publish(3), reason: 'lost' },
    ]
    const { summary, decision } = summarize(input(results))
    assert.equal(summary.failed, 3)
    assert.equal(decision.outcome, 'retry')
    assert.ok(decision.outcome === 'retry' && decision.error instanceof DeliveryError)
    assert.match(decision.error.message, /^3 of 4 messages not delivered: 2 × lost; 1 × timed out\./)
  })

  test('the retry error passes through the invocation redactor', () => {
    const results: MessageResult[] = [{ status: 'failed', publish: publish(0), reason: 'refused: token sts-secret-token' }]
    const { decision } = summarize(input(results, { redact: (t) => t.replaceAll('sts-secret-token', '***') }))
    assert.ok(decision.outcome === 'retry')
    assert.ok(!decision.error.message.includes('sts-secret-token'), decision.error.message)
  })

  test('a failed hand-off is not counted as dead-lettered; alone it decides dead-letter-failed, with failures it joins the retry', () => {
    const handOffError = new DeadLetterError('fc:dl', 1, new Error('503'))
    const dead: MessageResult = { status: 'dead-letter', deadLetter: { index: 0, reason: 'bad', event: {} } }
    const alone = summarize(input([dead], { handOffError }))
    assert.equal(alone.summary.deadLettered, 0)
    assert.ok(alone.decision.outcome === 'dead-letter-failed')
    // The verdict ledger ends the message: after the retries, the dead-letter function stores the dead letter as poison.
    assert.equal(alone.decision.error.message, `${handOffError.message} [verdicts v1 h]`)

    const withFailure = summarize(input([dead, { status: 'failed', publish: publish(1), reason: 'lost' }], { handOffError }))
    assert.equal(withFailure.decision.outcome, 'retry')
    assert.ok(withFailure.decision.outcome === 'retry')
    assert.match(withFailure.decision.error.message, /1 × lost; could not hand 1 dead letter to fc:dl: 503\b.* \[verdicts v1 ht\]$/)
  })

  test('rule ids that are names on Object.prototype are counted as ordinary names', () => {
    const results: MessageResult[] = ['constructor', 'toString', '__proto__', 'constructor'].map((id, i) => ({
      status: 'published' as const,
      publish: publish(i, id),
    }))
    const { summary } = summarize(input(results))
    assert.deepEqual(Object.entries(summary.rules), [
      ['constructor', 2],
      ['toString', 1],
      ['__proto__', 1],
    ])
  })

  test('lag is null without times and never negative', () => {
    assert.equal(summarize(input([])).summary.lagMs, null)
    assert.equal(summarize(input([], { oldestTime: 5000 })).summary.lagMs, 0)
  })
})

describe('oldestTime', () => {
  test('the earliest parsable CloudEvent time; unparsable and missing times are ignored', () => {
    const parsed = {
      shape: 'event-streaming',
      received: 4,
      poison: [],
      messages: ['2026-01-01T00:00:05Z', 'not a time', undefined, '2026-01-01T00:00:01Z'].map((time, index) => ({
        index,
        topic: 't',
        userProperties: {},
        body: '',
        raw: {},
        ...(time !== undefined ? { time } : {}),
      })),
    } satisfies ParsedEvent
    assert.equal(oldestTime(parsed), Date.parse('2026-01-01T00:00:01Z'))
    assert.equal(oldestTime({ ...parsed, messages: [] }), undefined)
  })
})

describe('every message accounted for (property)', () => {
  const record = (kind: number, i: number, rule: string): MessageResult => {
    const p = publish(i, rule)
    switch (kind) {
      case 0:
        return { status: 'published', publish: p }
      case 1:
        return { status: 'duplicate', index: i, ruleId: rule, seen: 'in this batch' }
      case 2:
        return { status: 'filtered', index: i, ruleId: rule }
      case 3:
        return { status: 'expired', index: i, ruleId: rule, ageMs: 5000, deadline: '1s', from: 'time' }
      case 4:
        return { status: 'dead-letter', deadLetter: { index: i, reason: 'poison', ruleId: rule, event: {} } }
      default:
        return { status: 'failed', publish: p, reason: 'the PUBACK did not arrive' }
    }
  }

  test('received = published + deadLettered + duplicates + filtered + expired + failed, whatever the batch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom('a', 'b', '__proto__')), { maxLength: 300 }),
        (kinds) => {
          const results = kinds.map(([k, rule], i) => record(k, i, rule))
          const { summary, decision } = summarize(input(results))
          const s = summary
          assert.equal(s.received, s.published + s.deadLettered + s.duplicates + s.filtered + s.expired + s.failed)
          assert.equal(
            Object.values(s.rules).reduce((a, n) => a + n, 0),
            s.published,
          )
          // A failed message fails the invocation, and the error says how many.
          assert.equal(decision.outcome, s.failed > 0 ? 'retry' : 'ok')
        },
      ),
      { numRuns: 200 },
    )
  })
})
