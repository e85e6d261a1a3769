// The verdict ledger the bridge's DeliveryError carries (shared/dead-letters/record.ts): it reads back as
// written from any error message around it, stays within one character per entry, and a ledger that does
// not read is refused whole, never half-read.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { readVerdicts, type Verdict, verdictLedger, withoutLedger } from '../../../shared/dead-letters/record.js'

const VERDICTS: Verdict[] = ['published', 'duplicate', 'filtered', 'dead-letter', 'not-handed-off', 'failed']

describe('verdict ledger', () => {
  test('any batch of verdicts reads back as written, from inside any message, in at most one character per entry', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...VERDICTS), { maxLength: 300 }), fc.string(), fc.string(), (verdicts, before, after) => {
        const ledger = verdictLedger(verdicts)
        assert.ok(ledger.length <= '[verdicts v1 ]'.length + verdicts.length)
        const text = `${before.replace(/\[/g, '(')} ${ledger} ${after}`
        assert.deepEqual(readVerdicts(text), verdicts)
        assert.ok(!withoutLedger(text).includes('[verdicts'))
      }),
      { seed: 20_240_501, numRuns: 300 },
    )
  })

  test('runs are counted: 998 published and 2 failed is p998t2', () => {
    const verdicts: Verdict[] = [...Array<Verdict>(998).fill('published'), 'failed', 'failed']
    assert.equal(verdictLedger(verdicts), '[verdicts v1 p998t2]')
  })

  test('an unknown code, a zero count or a count past a million is no ledger at all', () => {
    for (const text of ['[verdicts v1 pq]', '[verdicts v1 p0]', '[verdicts v1 t1000001]', '[verdicts v2 p]', 'no ledger'])
      assert.equal(readVerdicts(text), undefined, text)
    assert.deepEqual(readVerdicts('[verdicts v1 ]'), [])
  })
})
