// Routes in the one validator: templates, filters, reachability and the rule-level options, every error
// with its path under rules[i].routes[j].
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type RawRule, rawRule } from '../../helpers/factories.js'
import { assertOnlyError, assertValid, errorsOf } from '../../helpers/rule-checks.js'

type Route = Record<string, unknown>

const routed = (routes: Route[], over: Record<string, unknown> = {}): RawRule => rawRule(0, { routes, ...over })

describe('routes: valid', () => {
  test('templates with every placeholder, defaults, filters of every kind, qos, retain, user properties', () => {
    const set = assertValid([
      routed(
        [
          {
            when: { 'body.kind': 'alarm', tags: ['TagA', 'TagB'], 'userProperties.site': { prefix: 'eu-' }, keys: { exists: true } },
            topic: 'alarms/${userProperties.site:-unknown}/${body.device.id}',
            qos: 2,
            retain: true,
            userProperties: { site: '${userProperties.site}', source: 'rocketmq', priority: 3 },
          },
          { when: { 'body.items.0.id': 7 }, topic: 'parent0/${topic}/${tags}/${keys}/${messageId}' },
          { when: {}, topic: 'parent0/${mqttSecondTopic:-}' },
        ],
        { unmatched: 'skip', ordering: 'message-group' },
      ),
    ])
    const rule = set.rules[0]!
    assert.equal(rule.routes!.length, 3)
    assert.equal(rule.unmatched, 'skip')
    assert.equal(rule.ordering, 'message-group')
  })

  test('a rule without routes is what it always was (no new keys in the normalised rule)', () => {
    const rule = assertValid([rawRule(0)]).rules[0]!
    assert.equal('routes' in rule, false)
    assert.equal('unmatched' in rule, false)
    assert.equal('ordering' in rule, false)
  })

  test('profile mqtt: a placeholder may start the topic with allowAnyParent: true; multi-level literal text is fine', () => {
    assertValid([routed([{ when: {}, topic: '${topic}/a.b/${userProperties.x}', allowAnyParent: true }])], { profile: 'mqtt' })
  })

  test('a route parent shared by two rules is fine (a second topic tree for alarms)', () => {
    assertValid([
      rawRule(0, { routes: [{ when: { tags: 'Alarm' }, topic: 'alarms/${tags}' }] }),
      rawRule(1, { routes: [{ when: { tags: 'Alarm' }, topic: 'alarms/${tags}' }] }),
    ])
  })
})

describe('routes: templates, each error with its path', () => {
  const topicError = (topic: string, fragments: string[], defaults?: Record<string, unknown>) =>
    assertOnlyError([routed([{ when: {}, topic }])], 'rules[0].routes[0].topic', fragments, defaults)

  test('an unknown placeholder, with the nearest known field', () => {
    topicError('parent0/${userProperty.x}', ['unknown placeholder ${userProperty.x}', 'did you mean "userProperties.x"?'])
    topicError('parent0/${tag}', ['unknown placeholder ${tag}', 'did you mean "tags"?'])
  })

  test('the error is on the route that has it: rules[0].routes[2].topic', () => {
    const errors = errorsOf([
      routed([
        { when: { tags: 'A' }, topic: 'parent0/a' },
        { when: { tags: 'B' }, topic: 'parent0/b' },
        { when: { tags: 'C' }, topic: 'parent0/${userProperty.x}' },
      ]),
    ])
    assert.deepEqual(
      errors.map((e) => e.path),
      ['rules[0].routes[2].topic'],
    )
    assert.match(errors[0]!.message, /^unknown placeholder \$\{userProperty\.x\}/)
  })

  test('bad paths', () => {
    topicError('parent0/${body}', ['needs a path into the JSON body'])
    topicError('parent0/${body.a..b}', ['empty step'])
    topicError('parent0/${userProperties.}', ['needs a property name'])
    topicError('parent0/${tags.x}', ['tags has no parts'])
    topicError('parent0/${}', ['empty placeholder'])
    topicError(`parent0/\${body.${Array(17).fill('a').join('.')}}`, ['17 steps deep'])
  })

  test('unbalanced braces', () => {
    topicError('parent0/${tags', ['unbalanced braces', 'character 9'])
    topicError('parent0/tags}', ['unbalanced braces', 'closes no ${'])
    topicError('parent0/${a${tags}}', ['unbalanced braces'])
  })

  test('a default written with a single colon', () => {
    topicError('parent0/${tags:none}', ["a default is written with ':-'"])
  })

  test('a template that can produce a wildcard, in its text or its default', () => {
    topicError('parent0/+/${tags}', ['can produce a wildcard', "'+'"], { profile: 'mqtt' })
    topicError('parent0/${tags}/#', ['can produce a wildcard', "'#'"], { profile: 'mqtt' })
    topicError('parent0/${tags:-a+b}', ['the default "a+b"', 'wildcard'], { profile: 'mqtt' })
  })

  test('a default that is no single level, or would leave an empty level', () => {
    topicError('parent0/${tags:-a/b}', ['the default "a/b"', "contains '/'"])
    topicError('parent0/${tags:-}', ['would leave an empty topic level'])
  })

  test('empty levels', () => {
    topicError('parent0//${tags}', ['empty level'])
    topicError('parent0/${tags}/', ['empty level'])
  })

  test('${mqttSecondTopic} must stand alone in its level', () => {
    topicError('parent0/x${mqttSecondTopic}', ['${mqttSecondTopic} fills whole topic levels'])
  })

  test('profile alibaba: a written-out parent topic of one level, level characters, length', () => {
    topicError('${tags}/x', ['must begin with a written-out parent topic'])
    topicError('parent0/a.b/${tags}', ['"a.b"', "only letters, digits, '-' and '_'"])
    topicError(`parent0/${'x'.repeat(60)}/\${tags}`, ['before any placeholder is filled in', 'at most 64'])
    topicError('$SYS/${tags}', ["starts with '$'"], { profile: 'mqtt' })
  })

  test('a NUL in a user property name; a user property value of the wrong type; its template checked too', () => {
    const errors = errorsOf([routed([{ when: {}, topic: 'parent0/x', userProperties: { 'a\u0000b': 'v', list: [1], bad: '${nope}' } }])])
    assert.deepEqual(
      errors.map((e) => e.path),
      ['rules[0].routes[0].userProperties.a\u0000b', 'rules[0].routes[0].userProperties.bad', 'rules[0].routes[0].userProperties.list'],
    )
    assert.match(errors[1]!.message, /unknown placeholder \$\{nope\}/)
    assert.match(errors[2]!.message, /got a list of 1/)
  })

  test('control characters and non-characters are refused at load, as every MQTT string: names, fixed text, defaults', () => {
    const errors = errorsOf(
      [
        routed([{ when: {}, topic: 'parent0/x', userProperties: { 'a\u0001b': 'v', fine: 'text\uFFFF' } }]),
        rawRule(1, { routes: [{ when: {}, topic: 'parent1/a\u0085/${tags}' }] }),
        rawRule(2, { routes: [{ when: {}, topic: 'parent2/${tags:-a\u0001}' }] }),
      ],
      { profile: 'mqtt' },
    )
    const byPath = new Map(errors.map((e) => [e.path, e.message]))
    assert.match(byPath.get('rules[0].routes[0].userProperties.a\u0001b') ?? '', /U\+0001 \(a control character\)/)
    assert.match(byPath.get('rules[0].routes[0].userProperties.fine') ?? '', /U\+FFFF \(a non-character\)/)
    assert.match(byPath.get('rules[1].routes[0].topic') ?? '', /U\+0085 \(a control character\)/)
    assert.match(byPath.get('rules[2].routes[0].topic') ?? '', /U\+0001/)
  })
})

describe('routes: filters', () => {
  const whenError = (when: unknown, path: string, fragments: string[]) =>
    assertOnlyError([routed([{ when, topic: 'parent0/x' }])], `rules[0].routes[0].when${path}`, fragments)

  test('an unknown field, with the nearest known one; a field filters cannot read', () => {
    whenError({ tag: 'A' }, '.tag', ['unknown field "tag"', 'did you mean "tags"?'])
    whenError({ 'userProperty.site': 'A' }, '.userProperty.site', ['did you mean "userProperties.site"?'])
    whenError({ topic: 'A' }, '.topic', ['cannot be filtered on'])
  })

  test('a __proto__ key written in the rules is an unknown field, not a prototype', () => {
    const when = JSON.parse('{"__proto__": "x"}') as unknown
    whenError(when, '.__proto__', ['unknown field "__proto__"'])
  })

  test('each condition shape says what it got', () => {
    whenError({ tags: null }, '.tags', ['got null'])
    whenError({ tags: { regex: '.*' } }, '.tags', ['{prefix: "…"} or {exists: true|false}', '"regex"'])
    whenError({ tags: { prefix: 3 } }, '.tags.prefix', ['must be non-empty text, got 3'])
    whenError({ tags: { exists: 'yes' } }, '.tags.exists', ['must be true or false, got "yes"'])
    whenError({ tags: [] }, '.tags', ['empty list matches nothing'])
    whenError({ tags: ['A', { x: 1 }] }, '.tags[1]', ['got a mapping'])
    whenError({ tags: '' }, '.tags', ['empty value never matches'])
    whenError('tags', '', ['must be a mapping of fields to conditions'])
  })

  test('a tag the rule never receives', () => {
    assertOnlyError(
      [rawRule(0, { source: { tags: 'TagA||TagB' }, routes: [{ when: { tags: 'TagC' }, topic: 'parent0/x' }] })],
      'rules[0].routes[0].when.tags',
      ['tag "TagC" never reaches this rule', 'source.tags is "TagA||TagB"'],
    )
  })

  test('a route unreachable behind an earlier catch-all, or behind a route that takes all it accepts', () => {
    assertOnlyError(
      [
        routed([
          { when: {}, topic: 'parent0/a' },
          { when: { tags: 'A' }, topic: 'parent0/b' },
        ]),
      ],
      'rules[0].routes[1]',
      ['unreachable', 'routes[0] has an empty when and takes every message'],
    )
    assertOnlyError(
      [
        routed([
          { when: { tags: ['A', 'B'] }, topic: 'parent0/a' },
          { when: { tags: 'A', keys: 'k' }, topic: 'parent0/b' },
        ]),
      ],
      'rules[0].routes[1]',
      ['unreachable', 'routes[0] takes every message it accepts'],
    )
    assertOnlyError(
      [
        routed([
          { when: { 'body.site': { prefix: 'eu' } }, topic: 'parent0/a' },
          { when: { 'body.site': { prefix: 'eu-1' } }, topic: 'parent0/b' },
        ]),
      ],
      'rules[0].routes[1]',
      ['unreachable'],
    )
  })

  test('routes that each take messages the others do not are reachable', () => {
    assertValid([
      routed([
        { when: { tags: 'A', keys: 'k' }, topic: 'parent0/a' },
        { when: { tags: 'A' }, topic: 'parent0/b' },
        { when: { 'body.site': { exists: false } }, topic: 'parent0/c' },
        { when: { 'body.site': { prefix: 'eu' } }, topic: 'parent0/d' },
      ]),
    ])
  })
})

describe('routes: rule-level options', () => {
  test('unmatched: skip needs routes', () => {
    assertOnlyError([rawRule(0, { unmatched: 'skip' })], 'rules[0].unmatched', ['skip needs routes'])
  })

  test('unmatched and ordering take only their values, saying what they got', () => {
    const errors = errorsOf([rawRule(0, { unmatched: 'drop', ordering: 'fifo' })])
    assert.deepEqual(
      errors.map((e) => [e.path, e.message]),
      [
        ['rules[0].ordering', 'must be message-group, or left out, got "fifo"'],
        ['rules[0].unmatched', 'must be target (the default) or skip, got "drop"'],
      ],
    )
  })

  test('a route reading the body of a base64 rule', () => {
    assertOnlyError(
      [rawRule(0, { target: { bodyEncoding: 'base64' }, routes: [{ when: { 'body.kind': 'a' }, topic: 'parent0/x' }] })],
      'rules[0].routes[0]',
      ['reads the body', 'base64'],
    )
  })

  test('ordering: message-group refuses errorsTolerance ALL, from the rule or from the defaults', () => {
    assertOnlyError([rawRule(0, { ordering: 'message-group', trigger: { errorsTolerance: 'ALL' } })], 'rules[0].ordering', [
      'needs errorsTolerance NONE',
      'this rule says ALL',
    ])
    assertOnlyError([rawRule(0, { ordering: 'message-group' })], 'rules[0].ordering', ['defaults.trigger says ALL'], {
      trigger: { errorsTolerance: 'ALL' },
    })
    assertValid([rawRule(0, { ordering: 'message-group', trigger: { errorsTolerance: 'NONE' } })], { trigger: { errorsTolerance: 'ALL' } })
  })

  test('route parent topics count towards profile alibaba limit of 25 parent topics', () => {
    const routes = Array.from({ length: 25 }, (_, k) => ({ when: { keys: `k${k}` }, topic: `tree${k}/x` }))
    const errors = errorsOf([rawRule(0, { routes })])
    assert.equal(errors.length, 1)
    assert.equal(errors[0]!.path, 'rules')
    assert.match(errors[0]!.message, /use 26 parent topics; profile alibaba allows at most 25/)
  })

  test('more than 32 routes, or a `when` with more than 16 conditions, is refused', () => {
    const many = Array.from({ length: 33 }, (_, k) => ({ when: { keys: `k${k}` }, topic: 'parent0/x' }))
    assertOnlyError([rawRule(0, { routes: many })], 'rules[0].routes', ['at most 32 routes'])
    const when = Object.fromEntries(Array.from({ length: 17 }, (_, k) => [`userProperties.p${k}`, 'v']))
    assertOnlyError([routed([{ when, topic: 'parent0/x' }])], 'rules[0].routes[0].when', ['at most 16'])
  })
})
