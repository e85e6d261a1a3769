// How rule errors read: what each value was, the key that was probably meant, sorted by path, and no
// secret repeated.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_YAML_TOKENS, parseRulesText } from '../../../shared/rules/parse-text.js'
import { validateRules, validateRulesText } from '../../../shared/rules/validate.js'
import { rawRule } from '../../helpers/factories.js'

function errorsOf(input: unknown) {
  const r = typeof input === 'string' ? validateRulesText(input) : validateRules(input)
  assert.equal(r.ok, false, 'expected the rule set to be invalid')
  return r.ok ? [] : r.errors
}

describe('rule errors: every value error says what it got', () => {
  test('a QoS given as text: got "1"', () => {
    assert.deepEqual(errorsOf({ rules: [rawRule(0, { target: { qos: '1' } })] }), [
      { path: 'rules[0].target.qos', message: 'must be 0, 1 or 2, got "1"' },
    ])
  })

  test('numbers, booleans, lists and mappings are described, long text cut', () => {
    const errors = errorsOf({
      rules: [rawRule(0, { enabled: 'yes', target: { retain: 1, parentTopic: ['a'] }, source: { offset: 'x'.repeat(200) } })],
    })
    const by = Object.fromEntries(errors.map((e) => [e.path, e.message]))
    assert.equal(by['rules[0].enabled'], 'must be true or false, got "yes"')
    assert.equal(by['rules[0].target.retain'], 'must be true or false, got 1')
    assert.equal(by['rules[0].target.parentTopic'], 'must be a string, got a list of 1')
    assert.match(by['rules[0].source.offset']!, /, got "x{80}…"$/)
  })

  test('a password is never repeated', () => {
    const errors = errorsOf({
      rules: [
        rawRule(0, {
          source: { type: 'apache', endpoint: '10.0.0.8:9876', acl: { username: 'u', passwordEnv: 'P', password: 'hunter2' } },
        }),
      ],
    })
    assert.ok(errors.some((e) => e.path.endsWith('acl.password')))
    assert.ok(!JSON.stringify(errors).includes('hunter2'), JSON.stringify(errors))
  })
})

describe('rule errors: an unknown key suggests the nearest known one', () => {
  test('enabeld -> enabled; parenttopic -> parentTopic; groupID -> groupId; batchsize -> batchSize', () => {
    const errors = errorsOf({
      defaults: { trigger: { batchsize: 10 } },
      rules: [
        { ...rawRule(0), enabeld: true, source: { ...rawRule(0).source, groupID: 'x' }, target: { parenttopic: 'p', parentTopic: 'p' } },
      ],
    })
    const by = Object.fromEntries(errors.map((e) => [e.path, e.message]))
    assert.equal(by['rules[0].enabeld'], 'unknown key "enabeld"; did you mean "enabled"?')
    assert.equal(by['rules[0].target.parenttopic'], 'unknown key "parenttopic"; did you mean "parentTopic"?')
    assert.equal(by['rules[0].source.groupID'], 'unknown key "groupID"; did you mean "groupId"?')
    assert.equal(by['defaults.trigger.batchsize'], 'unknown key "batchsize"; did you mean "batchSize"?')
  })

  test('a key near nothing lists the known keys instead', () => {
    const errors = errorsOf({ rules: [{ ...rawRule(0), zzzzzz: 1 }] })
    assert.match(
      errors[0]!.message,
      /^unknown key "zzzzzz"; known keys: id, description, enabled, source, target, routes, unmatched, ordering, trigger$/,
    )
  })

  test('a route key: topc -> topic', () => {
    const errors = errorsOf({ rules: [rawRule(0, { routes: [{ when: {}, topc: 'parent0/x' }] })] })
    const by = Object.fromEntries(errors.map((e) => [e.path, e.message]))
    assert.equal(by['rules[0].routes[0].topc'], 'unknown key "topc"; did you mean "topic"?')
    assert.equal(by['rules[0].routes[0].topic'], 'is required')
  })
})

describe('rule errors: sorted by path, rules[2] before rules[10]', () => {
  test('errors across rules and checks come in path order', () => {
    const rules = Array.from({ length: 12 }, (_, i) => rawRule(i))
    rules[10] = rawRule(10, { id: 'x' })
    rules[2] = rawRule(2, { target: { qos: 5 } })
    rules[11] = rawRule(11, { id: 'rule-1' })
    const paths = errorsOf({ rules }).map((e) => e.path)
    assert.deepEqual(paths, ['rules[2].target.qos', 'rules[10].id', 'rules[11].id'])
  })

  test('1,000 overlapping rules: one error per rule, naming the first and counting the others', () => {
    const rules = Array.from({ length: 1000 }, (_, i) => rawRule(i, { source: { topic: 'same' } }))
    const errors = errorsOf({ defaults: { profile: 'mqtt' }, rules })
    assert.equal(errors.length, 999)
    assert.equal(errors[0]!.path, 'rules[1].source.tags')
    assert.equal(errors[998]!.path, 'rules[999].source.tags')
    assert.match(errors[998]!.message, /^overlaps rules\[0\] and 998 other rules \(same instance and topic/)
  })
})

describe('bounded YAML parsing', () => {
  test('parsing stops after 100 errors, and says so last', () => {
    const r = parseRulesText(']\n'.repeat(5000))
    assert.ok(!r.ok)
    assert.equal(r.errors.length, 101)
    assert.equal(r.errors[0]!.path, '(line 1, column 1)')
    assert.equal(r.errors[99]!.path, '(line 100, column 1)')
    assert.deepEqual(r.errors[100], { path: '(more)', message: 'parsing stopped after 100 errors; fix these first' })
  })

  test('errors of one line of a million characters stop at 100 too', () => {
    const r = parseRulesText(']'.repeat(1_000_000))
    assert.ok(!r.ok)
    assert.equal(r.errors.length, 101)
    assert.equal(r.errors[99]!.path, '(line 1, column 100)')
  })

  test(`YAML of more than ${MAX_YAML_TOKENS} tokens is refused, and JSON is not limited`, () => {
    const yaml = parseRulesText('- [a, b, c, d]\n'.repeat(20_000))
    assert.ok(!yaml.ok)
    assert.deepEqual(yaml.errors, [
      {
        path: '(document)',
        message: `holds more than ${MAX_YAML_TOKENS} YAML tokens; send a rule set this large as JSON, which has no such limit`,
      },
    ])
    const json = parseRulesText(JSON.stringify({ rules: Array(100_000).fill(['a', 'b', 'c', 'd']) }))
    assert.ok(json.ok)
    const broken = parseRulesText(`{"rules": [${'1,'.repeat(100_000)}]`)
    assert.ok(!broken.ok)
    assert.match(broken.errors[0]!.message, /^is not JSON: /)
  })

  test('duplicate keys are found in one pass, with their positions', () => {
    const r = parseRulesText('rules: []\ndefaults: {}\nrules: []\n')
    assert.ok(!r.ok)
    assert.deepEqual(r.errors, [{ path: '(line 3, column 1)', message: 'Map keys must be unique' }])
    const many = parseRulesText(Array.from({ length: 5000 }, (_, i) => `k${i}: 1\n`).join('') + 'k7: 2\n')
    assert.ok(!many.ok)
    assert.deepEqual(many.errors, [{ path: '(line 5001, column 1)', message: 'Map keys must be unique' }])
  })

  test('a second document is refused; aliases are still capped', () => {
    const two = parseRulesText('rules: []\n---\nrules: []\n')
    assert.ok(!two.ok)
    assert.match(two.errors[0]!.message, /a second YAML document/)
    const ok = parseRulesText('a: &x [1]\nb: *x\n')
    assert.ok(ok.ok)
    assert.deepEqual(ok.value, { a: [1], b: [1] })
  })
})
