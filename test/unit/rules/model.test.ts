// The compiled rule model (shared/rules/model.ts): what every tool asks of a rule set, routes as first-class
// as parent topics.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ruleModel } from '../../../shared/rules/model.js'
import { PROFILES } from '../../../shared/rules/profiles.js'
import { validateRules } from '../../../shared/rules/validate.js'
import { rawRule, validRuleSet } from '../../helpers/factories.js'

function modelOf(rules: ReturnType<typeof rawRule>[], defaults?: Record<string, unknown>) {
  const r = validateRules({ ...(defaults ? { defaults } : {}), rules })
  assert.ok(r.ok, JSON.stringify(r))
  return r.model
}

const plant = rawRule(0, {
  target: { parentTopic: 'plant', qos: 0 },
  routes: [
    { when: { tags: 'Alarm', 'userProperties.version': '1.10' }, topic: 'alarms/site-${body.site:-x}/${body.device.id}', qos: 2 },
    { when: { keys: { prefix: 'eu-' } }, topic: 'alarms/p2p/${userProperties.client}', retain: true, userProperties: { s: '${tags}' } },
  ],
  ordering: 'message-group',
})

describe('rule model', () => {
  test('the parent topics an enabled rule can publish to: its routes and its target, each with who uses it', () => {
    const model = modelOf([plant, rawRule(1, { routes: [{ when: {}, topic: 'alarms/${tags}' }] }), rawRule(2, { enabled: false })])
    assert.deepEqual(model.parentTopics, [
      {
        topic: 'alarms',
        usedBy: [
          { ruleId: 'rule-0', outlet: 'routes[0]' },
          { ruleId: 'rule-0', outlet: 'routes[1]' },
          { ruleId: 'rule-1', outlet: 'routes[0]' },
        ],
      },
      { topic: 'plant', usedBy: [{ ruleId: 'rule-0', outlet: 'target' }] },
      { topic: 'parent1', usedBy: [{ ruleId: 'rule-1', outlet: 'target' }] },
    ])
    assert.deepEqual(model.rule('rule-0')?.parentTopics, ['alarms', 'plant'])
    assert.equal(model.rules.length, 3, 'a disabled rule is in the model, but publishes nowhere')
  })

  test('each level with its placeholders and the pattern their values must match', () => {
    const [alarm, p2p, target] = modelOf([plant]).rule('rule-0')!.outlets
    assert.deepEqual(
      alarm!.levels.map((l) => [l.text, l.literal, l.placeholders.map((p) => p.field), l.pattern]),
      [
        ['alarms', true, [], PROFILES.alibaba.levelPattern],
        ['site-${body.site:-x}', false, ['body.site'], PROFILES.alibaba.levelPattern],
        ['${body.device.id}', false, ['body.device.id'], PROFILES.alibaba.levelPattern],
      ],
    )
    assert.deepEqual(alarm!.levels[1]!.placeholders, [{ field: 'body.site', default: 'x', text: '${body.site:-x}' }])
    assert.equal(p2p!.levels[2]!.pattern, PROFILES.alibaba.p2pClientIdPattern, "a written-out p2p level's client ID takes '@'")
    assert.deepEqual(
      target!.levels.map((l) => [l.text, l.subtopic]),
      [
        ['plant', false],
        ['${mqttSecondTopic}', true],
      ],
    )
  })

  test('filters with their values as written; QoS, retain, user properties, body reading and ordering', () => {
    const rule = modelOf([plant]).rule('rule-0')!
    const [alarm, p2p, target] = rule.outlets
    assert.deepEqual(alarm!.filters, [
      { field: 'tags', test: { kind: 'equals', value: 'Alarm' } },
      { field: 'userProperties.version', test: { kind: 'equals', value: '1.10' } },
    ])
    assert.deepEqual(p2p!.filters, [{ field: 'keys', test: { kind: 'prefix', prefix: 'eu-' } }])
    assert.deepEqual(
      rule.outlets.map((o) => [o.name, o.path, o.qos, o.retain, o.userProperties, o.readsBody]),
      [
        ['routes[0]', 'rules[0].routes[0]', 2, false, [], true],
        ['routes[1]', 'rules[0].routes[1]', 0, true, ['s'], false],
        ['target', 'rules[0].target', 0, false, [], false],
      ],
    )
    assert.equal(target!.topic, 'plant/${mqttSecondTopic}')
    assert.equal(rule.ordering, 'message-group')
  })

  test('unmatched: skip leaves the target out; allowAnyParent names no parent topic', () => {
    const model = modelOf(
      [rawRule(0, { routes: [{ when: {}, topic: '${userProperties.tree}/x', allowAnyParent: true }], unmatched: 'skip' })],
      {
        profile: 'mqtt',
      },
    )
    const rule = model.rule('rule-0')!
    assert.deepEqual(
      rule.outlets.map((o) => [o.name, o.parentTopic, o.anyParent]),
      [['routes[0]', undefined, true]],
    )
    assert.equal(rule.anyParent, true)
    assert.deepEqual(model.parentTopics, [])
  })

  test('ruleModel of a validated rule set is the validator’s model; a hand-built invalid one is refused', () => {
    const set = validRuleSet([plant])
    assert.deepEqual(ruleModel(set).parentTopics, modelOf([plant]).parentTopics)
    const broken = { ...set, rules: [{ ...set.rules[0]!, routes: [{ when: {}, topic: 'alarms/${nope}' }] }] }
    assert.throws(
      () => ruleModel(broken),
      /invalid rules in a rule set built without the validator \(1 error\):\n.*rules\[0\]\.routes\[0\]\.topic: unknown placeholder/,
    )
  })
})
