// The duplicate memory knows a message by rule, message ID and what was published.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DeliveredMemory } from '../../../shared/bridge/delivered-memory.js'
import type { Publish } from '../../../shared/mapping/publish.js'

const publish = (over: Partial<Publish> = {}): Publish => ({
  ruleId: 'r',
  messageId: 'UNIQ-1',
  index: 0,
  topic: 'devices/a',
  qos: 1,
  retain: false,
  payload: Buffer.from('on'),
  ...over,
})

describe('delivered memory', () => {
  test('the same message again (a retried batch) is known, wherever it sits in the batch', () => {
    const m = new DeliveredMemory(10)
    m.remember(publish())
    assert.equal(m.has(publish({ index: 7 })), true)
  })

  test('the same ID with anything else different is another message: not known', () => {
    const m = new DeliveredMemory(10)
    m.remember(publish())
    for (const other of [
      { payload: Buffer.from('off') },
      { topic: 'devices/b' },
      { qos: 2 as const },
      { retain: true },
      { properties: { contentType: 'text/plain' } },
      { ruleId: 'other' },
    ])
      assert.equal(m.has(publish(other)), false, JSON.stringify(other))
    assert.equal(m.has(publish({ messageId: 'UNIQ-2' })), false)
  })

  test('both contents of one ID are remembered once delivered', () => {
    const m = new DeliveredMemory(10)
    m.remember(publish())
    m.remember(publish({ payload: Buffer.from('off') }))
    assert.equal(m.has(publish()), true)
    assert.equal(m.has(publish({ payload: Buffer.from('off') })), true)
  })

  test('without a message ID nothing is remembered; the oldest are forgotten beyond capacity', () => {
    const m = new DeliveredMemory(2)
    const { messageId: _, ...anonymous } = publish()
    m.remember(anonymous)
    assert.equal(m.has(anonymous), false)
    for (const id of ['a', 'b', 'c']) m.remember(publish({ messageId: id }))
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => m.has(publish({ messageId: id }))),
      [false, true, true],
    )
  })
})
