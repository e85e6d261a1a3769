import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ProblemAt } from '../../../shared/errors.js'
import { validateRules, validateRulesText } from '../../../shared/rules/validate.js'
import { INSTANCE, type RawRule, rawRule } from '../../helpers/factories.js'

function errorsOf(input: unknown): ProblemAt[] {
  const r = typeof input === 'string' ? validateRulesText(input) : validateRules(input)
  assert.equal(r.ok, false, 'expected the rule set to be invalid')
  return r.ok ? [] : r.errors
}

/** The rule set has exactly one error, at `path`, whose message contains every fragment. */
function assertOnlyError(input: unknown, path: string, ...fragments: string[]): ProblemAt {
  const errors = errorsOf(input)
  assert.equal(errors.length, 1, `expected exactly one error, got ${JSON.stringify(errors)}`)
  const e = errors[0]!
  assert.equal(e.path, path)
  for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} should contain ${JSON.stringify(f)}`)
  return e
}

function assertValid(input: unknown) {
  const r = typeof input === 'string' ? validateRulesText(input) : validateRules(input)
  assert.ok(r.ok, `expected valid, got ${r.ok ? '' : JSON.stringify(r.errors)}`)
  return r.ruleSet
}

const set = (rules: RawRule[], defaults?: Record<string, unknown>) => ({ ...(defaults ? { defaults } : {}), rules })
const many = (n: number, enabledCount: number) => Array.from({ length: n }, (_, i) => rawRule(i, { enabled: i < enabledCount }))

describe('rules: invalid rule sets, each with its exact path', () => {
  test('id too short', () => {
    assertOnlyError(set([rawRule(0, { id: 'ab' })]), 'rules[0].id', '3-64 characters')
  })

  test('id with a character outside [A-Za-z0-9_-], in the third rule', () => {
    assertOnlyError(set([rawRule(0), rawRule(1), rawRule(2, { id: 'bad id!' })]), 'rules[2].id', "letters, digits, '-' and '_'")
  })

  test('id longer than 64 characters', () => {
    assertOnlyError(set([rawRule(0, { id: 'x'.repeat(65) })]), 'rules[0].id', '3-64 characters')
  })

  test('duplicate id names the earlier rule', () => {
    assertOnlyError(set([rawRule(0), rawRule(1), rawRule(2, { id: 'rule-0' })]), 'rules[2].id', 'duplicate id "rule-0"', 'rules[0]')
  })

  test('duplicate groupId names the earlier rule', () => {
    assertOnlyError(
      set([rawRule(0), rawRule(1, { source: { groupId: 'GID_bridge_0' } })]),
      'rules[1].source.groupId',
      'duplicate groupId "GID_bridge_0"',
      'rules[0]',
    )
  })

  test('groupId without the GID_ / GID- prefix', () => {
    assertOnlyError(set([rawRule(0, { source: { groupId: 'bridge_commands' } })]), 'rules[0].source.groupId', 'starting with GID_ or GID-')
  })

  test('two enabled rules on one parent topic', () => {
    assertOnlyError(
      set([rawRule(0), rawRule(1, { target: { parentTopic: 'parent0' } })]),
      'rules[1].target.parentTopic',
      'parent topic "parent0" already has an enabled rule (rules[0])',
    )
  })

  test("parent topic with wildcard '+'", () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'dev+ices' } })]),
      'rules[0].target.parentTopic',
      "wildcard ('+' or '#')",
      '"dev+ices"',
    )
  })

  test("parent topic with wildcard '#' (also in profile mqtt)", () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'devices/#' } })], { profile: 'mqtt' }),
      'rules[0].target.parentTopic',
      'wildcard',
    )
  })

  test('parent topic with a NUL character', () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'dev\u0000ices' } })], { profile: 'mqtt' }),
      'rules[0].target.parentTopic',
      'NUL',
    )
  })

  test("parent topic with a leading '$'", () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: '$SYS' } })], { profile: 'mqtt' }),
      'rules[0].target.parentTopic',
      "starts with '$'",
      'reserved',
    )
  })

  test('empty parent topic', () => {
    assertOnlyError(set([rawRule(0, { target: { parentTopic: '' } })]), 'rules[0].target.parentTopic', 'is empty')
  })

  test('multi-level parent topic in profile alibaba', () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'devices/room1' } })]),
      'rules[0].target.parentTopic',
      'single level',
      'profile alibaba',
    )
  })

  test('parent topic with an empty level in profile mqtt', () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'devices//room1' } })], { profile: 'mqtt' }),
      'rules[0].target.parentTopic',
      'empty level',
    )
  })

  test('parent topic of 65 characters in profile alibaba', () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'p'.repeat(65) } })]),
      'rules[0].target.parentTopic',
      'is 65 characters long',
      'at most 64',
    )
  })

  test('parent topic with characters outside [A-Za-z0-9_-] in profile alibaba', () => {
    assertOnlyError(
      set([rawRule(0, { target: { parentTopic: 'dev.ices' } })]),
      'rules[0].target.parentTopic',
      "only letters, digits, '-' and '_'",
      'profile alibaba',
    )
  })

  test('qos 3', () => {
    assertOnlyError(set([rawRule(0, { target: { qos: 3 } })]), 'rules[0].target.qos', 'must be 0, 1 or 2')
  })

  test('qos as a string', () => {
    assertOnlyError(set([rawRule(0, { target: { qos: '1' } })]), 'rules[0].target.qos', 'must be 0, 1 or 2')
  })

  test('defaults.qos 3 and an unknown profile', () => {
    const errors = errorsOf(set([rawRule(0)], { qos: 3, profile: 'hivemq' }))
    assert.deepEqual(errors.map((e) => e.path).sort(), ['defaults.profile', 'defaults.qos'])
    assert.match(errors.find((e) => e.path === 'defaults.qos')!.message, /must be 0, 1 or 2/)
    assert.match(errors.find((e) => e.path === 'defaults.profile')!.message, /alibaba or mqtt/)
  })

  test('bad offset', () => {
    assertOnlyError(
      set([rawRule(0, { source: { offset: 'yesterday' } })]),
      'rules[0].source.offset',
      "'latest', 'earliest' or an ISO timestamp",
    )
  })

  test('timestamp offset without a time zone', () => {
    assertOnlyError(set([rawRule(0, { source: { offset: '2026-01-31 08:00' } })]), 'rules[0].source.offset', 'ISO timestamp')
  })

  test('unknown key in a rule (typo)', () => {
    assertOnlyError(set([rawRule(0, { enabeld: false })]), 'rules[0].enabeld', 'unknown key "enabeld"')
  })

  test('unknown key in a target (typo)', () => {
    assertOnlyError(set([rawRule(0), rawRule(1, { target: { retian: true } })]), 'rules[1].target.retian', 'unknown key "retian"')
  })

  test('unknown top-level key', () => {
    assertOnlyError({ rules: [rawRule(0)], default: { qos: 1 } }, 'default', 'unknown key "default"')
  })

  test('missing source', () => {
    assertOnlyError(set([{ id: 'rule-0', target: rawRule(0).target }, rawRule(1)]), 'rules[0].source', 'is required')
  })

  test('missing target', () => {
    assertOnlyError(set([rawRule(0), { id: 'rule-1', source: rawRule(1).source }]), 'rules[1].target', 'is required')
  })

  test('missing source.topic and target.parentTopic', () => {
    const errors = errorsOf(set([rawRule(0, { source: { topic: undefined }, target: { parentTopic: undefined } })]))
    assert.deepEqual(errors, [
      { path: 'rules[0].source.topic', message: 'is required' },
      { path: 'rules[0].target.parentTopic', message: 'is required' },
    ])
  })

  test('wrong type is not reported as missing', () => {
    assertOnlyError(set([rawRule(0, { target: { retain: 'yes' } })]), 'rules[0].target.retain', 'must be true or false')
  })

  test('bad bodyEncoding, regionId, tags and RocketMQ topic', () => {
    const errors = errorsOf(
      set([rawRule(0, { source: { regionId: 'Hangzhou', tags: 'TagA|TagB', topic: 'a topic' }, target: { bodyEncoding: 'hex' } })]),
    )
    const byPath = new Map(errors.map((e) => [e.path, e.message]))
    assert.equal(errors.length, 4, JSON.stringify(errors))
    assert.match(byPath.get('rules[0].source.regionId') ?? '', /region ID such as cn-hangzhou/)
    assert.match(byPath.get('rules[0].source.tags') ?? '', /TagA\|\|TagB/)
    assert.match(byPath.get('rules[0].source.topic') ?? '', /RocketMQ topic name/)
    assert.match(byPath.get('rules[0].target.bodyEncoding') ?? '', /utf8 or base64/)
  })

  test('a rule that is not an object', () => {
    assertOnlyError(set([rawRule(0), 'rule-1' as unknown as RawRule]), 'rules[1]', 'must be a mapping')
  })

  test('rules is not a list', () => {
    assertOnlyError({ rules: { id: 'rule-0' } }, 'rules', 'must be a list of rules')
  })

  test('document is not a mapping', () => {
    assertOnlyError('- just\n- a list\n', '(root)', 'must be a mapping with a rules list')
  })

  test('more than 100 rules in profile alibaba (disabled ones count too)', () => {
    assertOnlyError(set(many(101, 10)), 'rules', 'has 101 rules', 'at most 100')
  })

  test('more than 25 enabled parent topics in profile alibaba', () => {
    assertOnlyError(set(many(26, 26)), 'rules', '26 parent topics', 'at most 25')
  })

  test('overlapping tag filters on the same instance and topic', () => {
    assertOnlyError(
      set([
        rawRule(0, { source: { topic: 'orders', tags: 'TagA||TagB' } }),
        rawRule(1, { source: { topic: 'orders', tags: 'TagC||TagB' } }),
      ]),
      'rules[1].source.tags',
      'overlaps rules[0]',
      '"TagA||TagB"',
      '"TagC||TagB"',
    )
  })

  test("tag filter '*' overlaps any other filter on the same instance and topic", () => {
    assertOnlyError(
      set([rawRule(0, { source: { topic: 'orders', tags: 'TagA' } }), rawRule(1), rawRule(2, { source: { topic: 'orders' } })]),
      'rules[2].source.tags',
      'overlaps rules[0]',
    )
  })

  test('unparsable YAML: the path gives line and column', () => {
    const errors = errorsOf('rules:\n  - id: "rule-0\n    enabled: true\n')
    assert.ok(errors.length >= 1)
    assert.match(errors[0]!.path, /^\(line \d+, column \d+\)$/)
    assert.match(errors[0]!.message, /quote/i)
  })

  test('unparsable YAML: unclosed flow sequence reports its line', () => {
    const errors = errorsOf('defaults:\n  qos: 1\nrules: [\n  {id: rule-0\n')
    assert.ok(errors.length >= 1)
    assert.match(errors[0]!.path, /^\(line [3-5], column \d+\)$/)
    assert.doesNotMatch(errors[0]!.message, /at line \d+, column \d+/, 'the position belongs in the path, not the message')
  })

  test('duplicate YAML key is an error with its line', () => {
    assertOnlyError('rules: []\nrules: []\n', '(line 2, column 1)', 'unique')
  })

  test('all errors are reported at once, across rules, with their original indices', () => {
    const errors = errorsOf(
      set([
        rawRule(0),
        rawRule(1, { target: { qos: 7 } }), // schema error; this rule is left out of the semantic checks
        rawRule(2, { id: 'rule-0' }), // duplicate id
        rawRule(3, { source: { groupId: 'nope' }, target: { parentTopic: 'a+b' } }), // schema error (groupId) and a bad parent topic
        rawRule(4, { source: { groupId: 'GID_bridge_2' } }), // duplicate groupId
        rawRule(5, { target: { parentTopic: '$SYS' } }), // reserved parent
        rawRule(6, { target: { parentTopic: 'parent0' } }), // second enabled rule on parent0
        rawRule(7, { typo: 1 }), // unknown key
      ]),
    )
    const got = errors.map((e) => e.path)
    assert.deepEqual(
      got.sort(),
      [
        'rules[1].target.qos',
        'rules[2].id',
        'rules[3].source.groupId',
        'rules[3].target.parentTopic',
        'rules[4].source.groupId',
        'rules[5].target.parentTopic',
        'rules[6].target.parentTopic',
        'rules[7].typo',
      ].sort(),
    )
    assert.match(errors.find((e) => e.path === 'rules[2].id')!.message, /already used by rules\[0\]/)
    assert.match(errors.find((e) => e.path === 'rules[4].source.groupId')!.message, /duplicate.*rules\[2\]/)
    assert.match(errors.find((e) => e.path === 'rules[6].target.parentTopic')!.message, /rules\[0\]/)
    assert.match(errors.find((e) => e.path === 'rules[3].target.parentTopic')!.message, /wildcard/)
  })

  test('all errors at once also from YAML text', () => {
    const text = `
defaults:
  qos: 9
rules:
  - id: x
    source: {regionId: cn-hangzhou, instanceId: I, topic: t1, groupId: GID_one}
    target: {parentTopic: p1}
  - id: rule-b
    source: {regionId: cn-hangzhou, instanceId: I, topic: t2, groupId: GID_two}
    target: {parentTopic: "p/2"}
`
    const errors = errorsOf(text)
    assert.deepEqual(errors.map((e) => e.path).sort(), ['defaults.qos', 'rules[0].id', 'rules[1].target.parentTopic'])
  })
})

describe('rules: valid rule sets', () => {
  test('defaults filled in', () => {
    const rs = assertValid(set([rawRule(0)]))
    assert.equal(rs.profile, 'alibaba')
    assert.equal(rs.defaultQos, 1)
    assert.equal(rs.rules.length, 1)
    const r = rs.rules[0]!
    assert.equal(r.enabled, true)
    assert.equal(r.source.tags, '*')
    assert.equal(r.source.offset, 'latest')
    assert.equal(r.target.qos, 1)
    assert.equal(r.target.retain, false)
    assert.equal(r.target.bodyEncoding, 'utf8')
    assert.equal(r.target.forwardUserProperties, false)
  })

  test('qos comes from defaults.qos when the rule has none, and the rule overrides it', () => {
    const rs = assertValid(set([rawRule(0), rawRule(1, { target: { qos: 0 } })], { qos: 2 }))
    assert.equal(rs.defaultQos, 2)
    assert.equal(rs.rules[0]!.target.qos, 2)
    assert.equal(rs.rules[1]!.target.qos, 0)
  })

  test('explicit values are kept', () => {
    const rs = assertValid(
      set([
        rawRule(0, {
          enabled: false,
          description: 'commands',
          source: { tags: 'TagA||TagB', offset: '2026-01-31T08:00:00Z' },
          target: { retain: true, bodyEncoding: 'base64', forwardUserProperties: true, qos: 2 },
        }),
      ]),
    )
    const r = rs.rules[0]!
    assert.deepEqual(
      {
        enabled: r.enabled,
        tags: r.source.tags,
        offset: r.source.offset,
        retain: r.target.retain,
        enc: r.target.bodyEncoding,
        fwd: r.target.forwardUserProperties,
        qos: r.target.qos,
      },
      { enabled: false, tags: 'TagA||TagB', offset: '2026-01-31T08:00:00Z', retain: true, enc: 'base64', fwd: true, qos: 2 },
    )
  })

  test('offset earliest and a timestamp with an offset', () => {
    assertValid(set([rawRule(0, { source: { offset: 'earliest' } }), rawRule(1, { source: { offset: '2026-01-31T08:00:00+08:00' } })]))
  })

  test('a disabled rule may share a parent topic with an enabled one', () => {
    const rs = assertValid(set([rawRule(0), rawRule(1, { enabled: false, target: { parentTopic: 'parent0' } })]))
    assert.equal(rs.rules.length, 2)
  })

  test('a disabled rule may overlap the tags of an enabled one', () => {
    assertValid(set([rawRule(0, { source: { topic: 'orders' } }), rawRule(1, { enabled: false, source: { topic: 'orders' } })]))
  })

  test('disjoint tag filters, or another instance, on one topic are fine', () => {
    assertValid(
      set([
        rawRule(0, { source: { topic: 'orders', tags: 'TagA||TagB' } }),
        rawRule(1, { source: { topic: 'orders', tags: 'TagC' } }),
        rawRule(2, { source: { topic: 'orders', instanceId: 'MQ_INST_other' } }),
      ]),
    )
  })

  test('multi-level parent topic and other characters are allowed in profile mqtt', () => {
    const rs = assertValid(set([rawRule(0, { target: { parentTopic: 'devices/room.1' } })], { profile: 'mqtt' }))
    assert.equal(rs.profile, 'mqtt')
    assert.equal(rs.rules[0]!.target.parentTopic, 'devices/room.1')
  })

  test('parent topic of exactly 64 characters in profile alibaba', () => {
    assertValid(set([rawRule(0, { target: { parentTopic: 'p'.repeat(64) } })]))
  })

  test('exactly 100 rules and 25 parent topics in profile alibaba; more in profile mqtt', () => {
    assertValid(set(many(100, 25)))
    assertValid(set(many(101, 26), { profile: 'mqtt' }))
  })

  test('JSON input is accepted (compact and tab-indented)', () => {
    const value = set([rawRule(0), rawRule(1, { target: { qos: 0 } })], { profile: 'alibaba', qos: 2 })
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, '\t')]) {
      const rs = assertValid(text)
      assert.equal(rs.rules.length, 2)
      assert.equal(rs.rules[0]!.source.instanceId, INSTANCE)
      assert.equal(rs.rules[0]!.target.qos, 2)
      assert.equal(rs.rules[1]!.target.qos, 0)
    }
  })

  test('the YAML example of the design is valid', () => {
    const rs = assertValid(`
defaults:
  profile: alibaba
  qos: 1
rules:
  - id: device-commands
    description: commands from the order service to devices
    enabled: true
    source:
      regionId: cn-hangzhou
      instanceId: MQ_INST_123_abc
      topic: device-commands
      tags: "*"
      groupId: GID_bridge_commands
      offset: latest
    target:
      parentTopic: devices
      qos: 1
      retain: false
      bodyEncoding: utf8
      forwardUserProperties: false
`)
    assert.equal(rs.rules[0]!.id, 'device-commands')
    assert.equal(rs.rules[0]!.target.parentTopic, 'devices')
  })

  test('a YAML alias bomb ("billion laughs") is refused before it is expanded', () => {
    const levels = 'abcdefghi'.split('')
    let text = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n`
    for (let i = 1; i < levels.length; i++) {
      const prev = levels[i - 1]!
      text += `${levels[i]}: &${levels[i]} [${Array(9).fill(`*${prev}`).join(',')}]\n`
    }
    text += 'rules: *i\n'
    // Expanded, `rules` would hold 9^9 (387 million) strings; the alias cap refuses it with one error instead.
    const r = validateRulesText(text)
    assert.equal(r.ok, false)
    if (!r.ok) {
      assert.equal(r.errors.length, 1)
      assert.equal(r.errors[0]!.path, '(document)')
      assert.match(r.errors[0]!.message, /alias/i)
    }
  })

  test('a few harmless aliases are still fine', () => {
    const rs = assertValid(`
rules:
  - id: rule-a
    source: {regionId: &region cn-hangzhou, instanceId: &inst MQ_INST_1, topic: t1, groupId: GID_one}
    target: {parentTopic: p1}
  - id: rule-b
    source: {regionId: *region, instanceId: *inst, topic: t2, groupId: GID_two}
    target: {parentTopic: p2}
`)
    assert.equal(rs.rules[1]!.source.regionId, 'cn-hangzhou')
    assert.equal(rs.rules[1]!.source.instanceId, 'MQ_INST_1')
  })
})
