// The local invoke server's record of invocations stays bounded, however many requests arrive.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvocationLog, MAX_INVOCATION_RECORDS } from '../../../scripts/local/fc-functions.js'

test('the most recent records are kept, the oldest forgotten', () => {
  const log = new InvocationLog()
  for (let i = 0; i < MAX_INVOCATION_RECORDS + 250; i++) {
    log.push({ requestId: `r${i}`, functionName: 'f', type: 'Sync', attempt: 0, outcome: 'refused' })
  }
  assert.equal(log.length, MAX_INVOCATION_RECORDS)
  assert.equal(log[0]!.requestId, 'r250')
  assert.equal(log.at(-1)!.requestId, `r${MAX_INVOCATION_RECORDS + 249}`)
  assert.equal(log.filter((r) => r.outcome === 'refused').length, MAX_INVOCATION_RECORDS)
})
