// Delivery deadlines in the rules file: the durations, the fields that go with them, what routes inherit,
// and the checks against the trigger's batching window (docs/rules.md, "Delivery deadlines").
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatDuration, parseDuration } from '../../../shared/duration.js'
import { deadlineOf } from '../../../shared/mapping/deadline.js'
import { validateRules } from '../../../shared/rules/validate.js'
import { rawRule, validRuleSet } from '../../helpers/factories.js'

const problems = (rules: unknown[], defaults?: Record<string, unknown>) => {
  const r = validateRules({ ...(defaults ? { defaults } : {}), rules })
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`)
}

describe('deadline durations', () => {
  test('an integer and a unit, from 1 s to 7 d', () => {
    assert.deepEqual(
      ['1s', '1000ms', '90s', '10m', '2h', '7d'].map((t) =>
        problems([rawRule(1, { target: { deadline: t }, trigger: { batchWindowSeconds: 0 } })]),
      ),
      [[], [], [], [], [], []],
    )
    assert.equal(parseDuration('2h'), 7_200_000)
    assert.equal(formatDuration(90_500), '1m 30s')
  })

  for (const [text, want] of [
    ['999ms', 'must be from 1s to 7d, got 999ms'],
    ['8d', 'must be from 1s to 7d, got 8d'],
    ['10', 'must be a duration such as 30s'],
    ['1.5h', 'must be a duration such as 30s'],
    ['-5m', 'must be a duration such as 30s'],
    ['05m', 'must be a duration such as 30s'],
  ] as const)
    test(`${JSON.stringify(text)} is refused: ${want}`, () => {
      const [p, ...rest] = problems([rawRule(1, { target: { deadline: text }, trigger: { batchWindowSeconds: 0 } })])
      assert.deepEqual(rest, [])
      assert.ok(p?.startsWith('rules[0].target.deadline: '), p)
      assert.ok(p?.includes(want), p)
    })

  test('a number where a duration belongs names the field', () => {
    assert.deepEqual(problems([rawRule(1)], { deadline: 30 }), ['defaults.deadline: must be a duration such as 30s, 10m, 2h or 7d, got 30'])
  })
})

describe('deadline fields', () => {
  test('deadlineFrom names a user property; onExpired is dead-letter or drop', () => {
    assert.deepEqual(problems([rawRule(1, { target: { deadline: '1m', deadlineFrom: 'sentAt' } })]), [
      `rules[0].target.deadlineFrom: must be userProperties.<name>: the user property holding the producer's send time, got "sentAt"`,
    ])
    assert.deepEqual(problems([rawRule(1, { target: { deadline: '1m', onExpired: 'discard' } })]), [
      'rules[0].target.onExpired: must be dead-letter (the default) or drop, got "discard"',
    ])
  })

  test('deadlineFrom and onExpired without any deadline would be ignored: both refused, at once', () => {
    assert.deepEqual(problems([rawRule(1, { target: { deadlineFrom: 'userProperties.sentAt', onExpired: 'drop' } })]), [
      'rules[0].target.deadlineFrom: has no effect: neither the rule, its routes nor defaults set a deadline',
      'rules[0].target.onExpired: has no effect: neither the rule, its routes nor defaults set a deadline',
    ])
  })

  test('routes inherit the rule’s deadline, else the default, and may set their own', () => {
    const set = validRuleSet(
      [
        rawRule(1, {
          target: { deadlineFrom: 'userProperties.sentAt', onExpired: 'drop' },
          routes: [
            { when: { tags: 'TagA' }, topic: 'parent1/a', deadline: '30s' },
            { when: { tags: 'TagB' }, topic: 'parent1/b' },
          ],
        }),
        rawRule(2, { target: { deadline: '2h' } }),
        rawRule(3, {}),
      ],
      { deadline: '10m' },
    )
    const [one, two, three] = set.rules
    const d = (rule: typeof one, route: number | 'target') => {
      const x = deadlineOf(rule!, set.defaultDeadline, route)
      return x && `${x.text} from ${x.from ?? 'the event'} ${x.onExpired}`
    }
    assert.equal(d(one, 0), '30s from sentAt drop')
    assert.equal(d(one, 1), '10m from sentAt drop')
    assert.equal(d(one, 'target'), '10m from sentAt drop')
    assert.equal(d(two, 'target'), '2h from the event dead-letter')
    assert.equal(d(three, 'target'), '10m from the event dead-letter')
    assert.equal(deadlineOf(validRuleSet([rawRule(4)]).rules[0]!, undefined, 'target'), undefined)
  })
})

describe('deadlines against the trigger’s batching window', () => {
  test('a deadline not longer than batchWindowSeconds is refused with the reason, a route’s too', () => {
    const got = problems([
      rawRule(1, {
        target: { deadline: '5s' },
        trigger: { batchWindowSeconds: 10 },
        routes: [{ when: { tags: 'TagA' }, topic: 'parent1/a', deadline: '10s' }],
      }),
    ])
    assert.equal(got.length, 2, JSON.stringify(got))
    assert.ok(got[0]!.startsWith('rules[0].routes[0].deadline: 10s is not longer than the trigger'), got[0])
    assert.ok(got[1]!.startsWith('rules[0].target.deadline: 5s is not longer than the trigger'), got[1])
    assert.ok(got[1]!.includes('messages could expire before they arrive'), got[1])
  })

  test('without trigger settings, the triggers’ own default window (1 s): a 1s deadline is refused, 2s passes', () => {
    const got = problems([rawRule(1, { target: { deadline: '1s' } })])
    assert.equal(got.length, 1)
    assert.ok(got[0]!.startsWith('rules[0].target.deadline: 1s is not longer than the trigger'), got[0])
    assert.deepEqual(problems([rawRule(1, { target: { deadline: '2s' } })]), [])
    assert.deepEqual(problems([rawRule(1, { target: { deadline: '1s' }, trigger: { batchWindowSeconds: 0 } })]), [])
  })

  test('the default deadline against the default trigger window; a longer deadline passes', () => {
    const got = problems([rawRule(1)], { deadline: '15s', trigger: { batchWindowSeconds: 15 } })
    assert.equal(got.length, 1)
    assert.ok(got[0]!.startsWith('rules[0].target.deadline: 15s (defaults.deadline) is not longer'), got[0])
    assert.deepEqual(problems([rawRule(1)], { deadline: '16s', trigger: { batchWindowSeconds: 15 } }), [])
  })
})
