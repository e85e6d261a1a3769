// Template parsing at rule load: literal text and placeholders, defaults, and the topic levels they fill.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Result } from '../../../shared/errors.js'
import { parseField } from '../../../shared/rules/fields.js'
import { PROFILES } from '../../../shared/rules/profiles.js'
import { editDistance, nearest } from '../../../shared/rules/suggest.js'
import { parseTemplate, readsBody } from '../../../shared/rules/template.js'
import { parseTopicTemplate } from '../../../shared/rules/topic-template.js'

/** The value of a result that must hold one. */
function valueIn<T>(r: Result<T>): T {
  assert.ok(r.ok, r.ok ? '' : r.reason)
  return r.value
}

/** The reason of a result that must be a refusal. */
function reasonOf(r: Result<unknown>): string {
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`)
  return r.reason
}

describe('parseTemplate', () => {
  test('literal text and placeholders, in order, each with its field and default', () => {
    const t = valueIn(parseTemplate('a-${tags}/${userProperties.site:-x:-y}/$lit/${body.items.0.id}'))
    assert.deepEqual(t.parts, [
      'a-',
      { field: { kind: 'tags' }, text: '${tags}' },
      '/',
      { field: { kind: 'userProperties', name: 'site' }, fallback: 'x:-y', text: '${userProperties.site:-x:-y}' },
      '/$lit/',
      { field: { kind: 'body', path: ['items', '0', 'id'] }, text: '${body.items.0.id}' },
    ])
    assert.equal(readsBody(t), true)
  })

  test('text without placeholders is one literal part; an empty template none', () => {
    assert.deepEqual(valueIn(parseTemplate('plain/text')), { source: 'plain/text', parts: ['plain/text'] })
    assert.deepEqual(valueIn(parseTemplate('')), { source: '', parts: [] })
  })

  test('problems: unbalanced, nested, empty, unknown', () => {
    assert.match(reasonOf(parseTemplate('x${tags')), /unbalanced braces: the \$\{ at character 2 is not closed/)
    assert.match(reasonOf(parseTemplate('x}')), /the \} at character 2 closes no \$\{/)
    assert.match(reasonOf(parseTemplate('${a${b}}')), /unbalanced braces/)
    assert.match(reasonOf(parseTemplate('${}')), /empty placeholder/)
    assert.match(reasonOf(parseTemplate('${messageID}')), /unknown placeholder \$\{messageID\}.*did you mean "messageId"/)
  })

  test('every wrong placeholder is named at once, in order', () => {
    const reason = reasonOf(parseTemplate('a/${messageID}/${}/${keys}/${tag}'))
    const named = ['${messageID}', 'empty placeholder ${}', '${tag}'].map((t) => reason.indexOf(t))
    assert.ok(
      named.every((at, k) => at >= 0 && (k === 0 || at > named[k - 1]!)),
      reason,
    )
    assert.doesNotMatch(reason, /\$\{keys\}/, 'a valid placeholder is not named')
  })
})

describe('parseTopicTemplate', () => {
  test('levels, the subtopic level, the written-out parent and the profile pattern per level', () => {
    const t = valueIn(parseTopicTemplate('alarms/${tags}-x/${mqttSecondTopic}', PROFILES.alibaba))
    assert.equal(t.parent, 'alarms')
    assert.deepEqual(
      t.levels.map((l) => [l.parts.length, l.subtopic, l.pattern?.source]),
      [
        [1, false, '^[A-Za-z0-9_-]+$'],
        [2, false, '^[A-Za-z0-9_-]+$'],
        [1, true, '^[A-Za-z0-9_-]+$'],
      ],
    )
  })

  test('a p2p client-ID level allows @ in profile alibaba', () => {
    const t = valueIn(parseTopicTemplate('devices/p2p/${userProperties.client}', PROFILES.alibaba))
    assert.equal(t.levels[2]!.pattern, PROFILES.alibaba.p2pClientIdPattern)
  })

  test('a fully literal topic is checked as a whole topic', () => {
    assert.match(reasonOf(parseTopicTemplate('ab', PROFILES.alibaba)), /at least 3/)
    assert.ok(parseTopicTemplate('abc/def', PROFILES.alibaba).ok)
  })
})

describe('fields and suggestions', () => {
  test('parseField per use', () => {
    assert.deepEqual(valueIn(parseField('keys', 'filter')), { kind: 'keys' })
    assert.match(reasonOf(parseField('messageId', 'filter')), /cannot be filtered on/)
    assert.deepEqual(valueIn(parseField('messageId', 'placeholder')), { kind: 'messageId' })
    assert.deepEqual(valueIn(parseField('userProperties.a.b', 'filter')), { kind: 'userProperties', name: 'a.b' })
  })

  test('nearest: case first, then within a third of the length', () => {
    assert.equal(nearest('ENABLED', ['enabled']), 'enabled')
    assert.equal(nearest('enabeld', ['id', 'enabled']), 'enabled')
    assert.equal(nearest('xyz', ['enabled']), undefined)
    assert.equal(editDistance('ab', 'ba'), 1)
    assert.equal(editDistance('kitten', 'sitting'), 3)
    assert.equal(editDistance('a', 'abcdefgh'), Number.POSITIVE_INFINITY)
  })
})
