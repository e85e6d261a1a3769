// When a message expires: counted from deadlineFrom's send time (epoch ms or ISO 8601), else from the
// event's time, else (raw data) the earliest documented time it carries; planning and the preview.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { planBatch } from '../../../shared/bridge/plan.js'
import { previewEvent } from '../../../shared/bridge/preview.js'
import { parseEvent } from '../../../shared/events/parse.js'
import { expiryOf, isExpired } from '../../../shared/mapping/deadline.js'
import { RuleIndex } from '../../../shared/mapping/rule-index.js'
import type { Deadline } from '../../../shared/rules/deadline.js'
import { INSTANCE, message, rawRule, validRuleSet } from '../../helpers/factories.js'

const NOW = Date.parse('2026-12-07T12:00:00.000Z')
const MINUTE = 60_000
const tenMinutes: Deadline = { text: '10m', ms: 10 * MINUTE, onExpired: 'dead-letter' }
const fromSentAt: Deadline = { ...tenMinutes, from: 'sentAt' }

const expiry = (d: Deadline, over: Parameters<typeof message>[0]) => {
  const r = expiryOf(message(over), d, NOW)
  return r.ok ? { at: r.value.expiresAt - NOW, from: r.value.from } : r.reason
}

describe('expiry of one message', () => {
  test('from the event’s time', () => {
    assert.deepEqual(expiry(tenMinutes, { sentAt: { at: NOW - 4 * MINUTE, from: 'time' } }), { at: 6 * MINUTE, from: 'time' })
  })

  test('from deadlineFrom: epoch milliseconds and ISO 8601, ahead of the event’s time', () => {
    const sentAt = { at: NOW, from: 'time' as const }
    assert.deepEqual(expiry(fromSentAt, { sentAt, userProperties: { sentAt: String(NOW - 9 * MINUTE) } }), {
      at: MINUTE,
      from: 'userProperties.sentAt',
    })
    assert.deepEqual(expiry(fromSentAt, { sentAt, userProperties: { sentAt: '2026-12-07T19:58:00+08:00' } }), {
      at: 8 * MINUTE,
      from: 'userProperties.sentAt',
    })
  })

  test('deadlineFrom missing on a message: the event’s time', () => {
    assert.deepEqual(expiry(fromSentAt, { sentAt: { at: NOW - MINUTE, from: 'time' } }), { at: 9 * MINUTE, from: 'time' })
  })

  for (const bad of ['yesterday', '12/07/2026', '2026-12-07T12:00:00', '1.5e12', '', '0'])
    test(`deadlineFrom ${JSON.stringify(bad)} singles the message out, naming the property and the value`, () => {
      const r = expiry(fromSentAt, { sentAt: { at: NOW, from: 'time' }, userProperties: { sentAt: bad } })
      assert.equal(typeof r, 'string')
      assert.ok((r as string).startsWith('userProperties.sentAt: must be the send time in epoch milliseconds or ISO 8601'), r as string)
      assert.ok((r as string).endsWith(`got ${JSON.stringify(bad)}`), r as string)
    })

  test('no time at all: a reason, not a guess', () => {
    assert.match(expiry(fromSentAt, {}) as string, /^the rule's deadline \(10m\) cannot be checked: .*no userProperties\.sentAt/)
  })

  test('a send time ahead of the bridge’s clock earns no more than the deadline from now', () => {
    assert.deepEqual(expiry(tenMinutes, { sentAt: { at: NOW + 60 * MINUTE, from: 'time' } }), { at: 10 * MINUTE, from: 'time' })
  })

  test('less than a second left is expired', () => {
    assert.equal(isExpired(NOW + 1000, NOW), false)
    assert.equal(isExpired(NOW + 999, NOW), true)
  })
})

const entry = (uniq: string, sys: Record<string, unknown>, userProperties: Record<string, string> = {}) => ({
  topic: 'topic-1',
  systemProperties: { INSTANCE_ID: INSTANCE, UNIQ_KEY: uniq, ...sys },
  userProperties,
  body: 'x',
})

describe('the event’s time, by shape', () => {
  test('raw data: BORN_TIMESTAMP, else CONSUME_START_TIME, the earlier when both', () => {
    const parsed = parseEvent([
      entry('A', { BORN_TIMESTAMP: String(NOW - 5000), CONSUME_START_TIME: NOW - 1000 }),
      entry('B', { CONSUME_START_TIME: NOW - 2000 }),
      entry('C', {}),
    ])
    assert.deepEqual(
      parsed.messages.map((m) => m.sentAt),
      [{ at: NOW - 5000, from: 'BORN_TIMESTAMP' }, { at: NOW - 2000, from: 'CONSUME_START_TIME' }, undefined],
    )
  })

  test('a CloudEvent: its time', () => {
    const time = '2026-12-07T11:59:00.000Z'
    const parsed = parseEvent({
      id: 'e1',
      source: 's',
      specversion: '1.0',
      type: 'mq:Topic:SendMessage',
      time,
      data: entry('A', { CONSUME_START_TIME: NOW - 1000 }),
    })
    assert.deepEqual(parsed.messages[0]!.sentAt, { at: Date.parse(time), from: 'time' })
  })
})

describe('planning and the preview under deadlines', () => {
  const rules = validRuleSet([
    rawRule(1, { target: { deadline: '1m', deadlineFrom: 'userProperties.sentAt' } }),
    rawRule(2, { target: { deadline: '1m', onExpired: 'drop' } }),
  ])
  const batch = [
    entry('FRESH', { CONSUME_START_TIME: NOW }, { mqttSecondTopic: '/a', sentAt: String(NOW - 20_000) }),
    entry('OLD', { CONSUME_START_TIME: NOW }, { mqttSecondTopic: '/a', sentAt: String(NOW - 61_000) }),
    entry('BAD', { CONSUME_START_TIME: NOW }, { mqttSecondTopic: '/a', sentAt: 'soon' }),
    { ...entry('DROP', { CONSUME_START_TIME: NOW - 120_000 }, { mqttSecondTopic: '/b' }), topic: 'topic-2' },
  ]

  test('planning dates each message; a malformed send time is a dead letter', () => {
    const planned = planBatch(parseEvent(batch), new RuleIndex(rules), NOW)
    assert.deepEqual(
      planned.map((p) => (p.status === 'publish' ? p.publish.expiresAt! - NOW : p.status)),
      [40_000, -1000, 'dead-letter', -60_000],
    )
  })

  test('the preview: time left for the fresh one; the expired ones with their age and what becomes of them', () => {
    const p = previewEvent(batch, rules, NOW)
    assert.deepEqual(
      p.publishes.map((x) => [x.messageId, x.deadline]),
      [
        [
          'FRESH',
          {
            deadline: '1m',
            from: 'userProperties.sentAt',
            sentAt: new Date(NOW - 20_000).toISOString(),
            timeLeftMs: 40_000,
            onExpired: 'dead-letter',
          },
        ],
      ],
    )
    assert.deepEqual(p.expired, [
      {
        index: 1,
        messageId: 'OLD',
        ruleId: 'rule-1',
        ageMs: 61_000,
        deadline: '1m',
        from: 'userProperties.sentAt',
        onExpired: 'dead-letter',
      },
      { index: 3, messageId: 'DROP', ruleId: 'rule-2', ageMs: 120_000, deadline: '1m', from: 'CONSUME_START_TIME', onExpired: 'drop' },
    ])
    assert.deepEqual(
      p.deadLetters.map((d) => d.messageId),
      ['BAD'],
    )
  })
})
