// Planning: one record per entry of the event, in batch order, shared by the bridge and the preview.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { planBatch, slices } from '../../../shared/bridge/plan.js'
import { parseEvent } from '../../../shared/events/parse.js'
import { INSTANCE, rawRule, ruleIndex } from '../../helpers/factories.js'

const index = ruleIndex([rawRule(1)])

function entry(uniq: string | undefined, userProperties: Record<string, string> = {}, body = 'hello'): Record<string, unknown> {
  return {
    topic: 'topic-1',
    systemProperties: { INSTANCE_ID: INSTANCE, ...(uniq !== undefined ? { UNIQ_KEY: uniq } : {}) },
    userProperties,
    body,
  }
}

describe('planBatch', () => {
  test('one record per entry, in batch order, whatever kind each is', () => {
    const event = [entry('A'), 'not an object', entry('B', { qoslevel: '7' }), entry('A'), entry('C')]
    const planned = planBatch(parseEvent(event), index)
    assert.deepEqual(
      planned.map((p) => p.status),
      ['publish', 'dead-letter', 'dead-letter', 'duplicate', 'publish'],
    )
    const bad = planned[2]!
    assert.ok(bad.status === 'dead-letter')
    assert.equal(bad.deadLetter.ruleId, 'rule-1')
    assert.equal(bad.deadLetter.messageId, 'B')
    assert.match(bad.deadLetter.reason, /qoslevel: must be 0, 1 or 2, got "7"/)
    assert.deepEqual(bad.deadLetter.event, event[2], 'the entry verbatim')
  })

  test('the same message ID with different content in one batch is a dead letter naming the first position', () => {
    const planned = planBatch(parseEvent([entry('A', {}, 'one'), entry('A', {}, 'two')]), index)
    const second = planned[1]!
    assert.ok(second.status === 'dead-letter')
    assert.match(second.deadLetter.reason, /message ID "A" appears twice in this batch with different content \(first at position 0\)/)
  })

  test('a repeat differing only in its retain flag is different content, not a duplicate', () => {
    const routed = ruleIndex([
      rawRule(1, {
        routes: [
          { when: { tags: 'A' }, topic: 'parent1/x', retain: true },
          { when: {}, topic: 'parent1/x' },
        ],
      }),
    ])
    const tagged = (tag: string) => ({ ...entry('SAME'), systemProperties: { INSTANCE_ID: INSTANCE, UNIQ_KEY: 'SAME', TAGS: tag } })
    const planned = planBatch(parseEvent([tagged('A'), tagged('B')]), routed)
    assert.equal(planned[0]!.status, 'publish')
    const second = planned[1]!
    assert.ok(second.status === 'dead-letter', `got ${second.status}`)
    assert.match(second.deadLetter.reason, /appears twice in this batch with different content/)
  })

  test('entries without a message ID are never taken for repeats', () => {
    const planned = planBatch(parseEvent([entry(undefined), entry(undefined)]), index)
    assert.deepEqual(
      planned.map((p) => p.status),
      ['publish', 'publish'],
    )
  })

  test('an entry too deeply nested to stay JSON is kept as its exact JSON text, and the reason says so', () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 20000; i++) deep = [deep]
    const planned = planBatch(parseEvent([entry('A'), { specversion: '1.0', data: deep }]), index)
    const bad = planned[1]!
    assert.ok(bad.status === 'dead-letter')
    assert.match(bad.deadLetter.reason, /nested deeper than 100 levels: stored as its JSON text$/)
    assert.equal(bad.deadLetter.eventText, true)
    assert.equal(bad.deadLetter.event, `{"specversion":"1.0","data":${'['.repeat(20000)}"x"${']'.repeat(20000)}}`)
    assert.equal(planned[0]!.status, 'publish')
  })
})

describe('planBatch with routes', () => {
  const routed = ruleIndex([
    rawRule(1, {
      routes: [{ when: { 'userProperties.kind': 'alarm' }, topic: 'alarms/${userProperties.site:-any}' }],
      unmatched: 'skip',
      ordering: 'message-group',
    }),
  ])

  test('a message no route takes is a filtered record, in batch order between the others', () => {
    const event = [entry('A', { kind: 'alarm', site: 'hz' }), entry('B', { kind: 'info' }), entry('C', { kind: 'alarm' })]
    const planned = planBatch(parseEvent(event), routed)
    assert.deepEqual(
      planned.map((p) => p.status),
      ['publish', 'filtered', 'publish'],
    )
    assert.deepEqual(planned[1], { status: 'filtered', index: 1, ruleId: 'rule-1', messageId: 'B' })
    const first = planned[0]!
    assert.ok(first.status === 'publish')
    assert.equal(first.route, 0)
    assert.equal(first.publish.topic, 'alarms/hz')
  })

  test('the planned record carries the message group of an ordered rule', () => {
    const grouped = { ...entry('A', { kind: 'alarm', __SHARDINGKEY: 'order-9' }) }
    const planned = planBatch(parseEvent([grouped, entry('B', { kind: 'alarm' })]), routed)
    assert.ok(planned[0]!.status === 'publish' && planned[1]!.status === 'publish')
    assert.equal(planned[0]!.messageGroup, 'order-9')
    assert.equal('messageGroup' in planned[1]!, false)
  })
})

describe('slices of a paced batch', () => {
  test('unpaced, one slice; paced, 25 ms of the rate each, at least 64, covering the batch once in order', () => {
    assert.deepEqual(slices(300, 0), [[0, 300]])
    assert.deepEqual(slices(300, 1000), [
      [0, 64],
      [64, 128],
      [128, 192],
      [192, 256],
      [256, 300],
    ])
    const fast = slices(10_000, 10_000)
    assert.equal(fast.length, 40)
    assert.ok(fast.every(([from, to], k) => from === k * 250 && to === from + 250))
    assert.deepEqual(slices(0, 1000), [])
    assert.deepEqual(slices(10, 1000), [[0, 10]])
  })
})
