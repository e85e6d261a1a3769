// Routes stay inside their rule (another enabled rule's parent topic is out of bounds; a producer-chosen
// parent needs allowAnyParent: true in profile mqtt), and every error of a rule set comes at once, in path order.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { validateRules } from '../../../shared/rules/validate.js'
import { type RawRule, rawRule } from '../../helpers/factories.js'
import { assertOnlyError, assertValid, errorsOf } from '../../helpers/rule-checks.js'

type Route = Record<string, unknown>

const routed = (routes: Route[], over: Record<string, unknown> = {}): RawRule => rawRule(0, { routes, ...over })

describe('routes stay inside their rule', () => {
  test("a route may not publish into another enabled rule's parent topic", () => {
    assertOnlyError([rawRule(0, { routes: [{ when: {}, topic: 'parent1/${tags}' }] }), rawRule(1)], 'rules[0].routes[0].topic', [
      'can publish into parent topic "parent1"',
      `rules[1]'s ("rule-1")`,
      'a route stays inside its own rule',
    ])
  })

  test("profile mqtt: a placeholder level that could spell another rule's multi-level parent out counts", () => {
    assertOnlyError(
      [rawRule(0, { routes: [{ when: {}, topic: 'plant/${tags}/x' }] }), rawRule(1, { target: { parentTopic: 'plant/hall' } })],
      'rules[0].routes[0].topic',
      ['"plant/hall"'],
      { profile: 'mqtt' },
    )
    assertValid([rawRule(0, { routes: [{ when: {}, topic: 'plant/yard/x' }] }), rawRule(1, { target: { parentTopic: 'plant/hall' } })], {
      profile: 'mqtt',
    })
  })

  test("a disabled rule's parent topic is free, and a disabled rule's routes are not held to others'", () => {
    assertValid([rawRule(0, { routes: [{ when: {}, topic: 'parent1/x' }] }), rawRule(1, { enabled: false })])
    assertValid([rawRule(0, { enabled: false, routes: [{ when: {}, topic: 'parent1/x' }] }), rawRule(1)])
  })

  test('profile alibaba: the producer never chooses the parent topic, allowAnyParent or not', () => {
    const errors = errorsOf([routed([{ when: {}, topic: '${tags}/x', allowAnyParent: true }])])
    assert.deepEqual(
      errors.map((e) => e.path),
      ['rules[0].routes[0].allowAnyParent', 'rules[0].routes[0].topic'],
    )
    assert.match(errors[0]!.message, /is not allowed in profile alibaba/)
    assert.match(errors[1]!.message, /must begin with a written-out parent topic/)
  })

  test('profile mqtt: a producer-chosen first level needs allowAnyParent: true, ${mqttSecondTopic} alone included', () => {
    for (const topic of ['${mqttSecondTopic}', '${userProperties.tree}/x'])
      assertOnlyError(
        [routed([{ when: {}, topic }])],
        'rules[0].routes[0].topic',
        ['lets the producer choose the parent topic', 'allowAnyParent: true'],
        {
          profile: 'mqtt',
        },
      )
    // Said explicitly, it may write anywhere, another rule's parent topic included.
    assertValid([routed([{ when: {}, topic: '${mqttSecondTopic}', allowAnyParent: true }]), rawRule(1)], { profile: 'mqtt' })
  })
})

describe('every error at once, in path order', () => {
  test('schema errors and route errors of one rule together, with the cross-rule checks', () => {
    const errors = errorsOf([
      rawRule(0, { target: { qos: 7 }, routes: [{ when: { tagz: 'A' }, topic: 'parent0/${bodyy.x}' }] }),
      rawRule(1, { id: 'rule-0', routes: [{ when: {}, topic: 'parent0/${tags}' }] }),
    ])
    assert.deepEqual(
      errors.map((e) => e.path),
      ['rules[0].routes[0].topic', 'rules[0].routes[0].when.tagz', 'rules[0].target.qos', 'rules[1].id', 'rules[1].routes[0].topic'],
    )
    assert.match(errors[4]!.message, /can publish into parent topic "parent0"/)
  })

  test('a stray top-level key does not hide the rules’ problems', () => {
    const r = validateRules({ rulez: [], rules: [routed([{ when: {}, topic: 'parent0/${tagz}' }])] })
    assert.ok(!r.ok)
    assert.deepEqual(
      r.errors.map((e) => e.path),
      ['rules[0].routes[0].topic', 'rulez'],
    )
  })
})
