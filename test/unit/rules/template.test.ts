// Template parsing at rule load: literal text and placeholders, defaults, and the topic levels they fill.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseField } from '../../../shared/rules/fields.js'
import { PROFILES } from '../../../shared/rules/profiles.js'
import { editDistance, nearest } from '../../../shared/rules/suggest.js'
import { parseTemplate, readsBody } from '../../../shared/rules/template.js'
import { parseTopicTemplate } from '../../../shared/rules/topic-template.js'

describe('parseTemplate', () => {
  test('literal text and placeholders, in order, each with its field and default', () => {
    const t = parseTemplate('a-${tags}/${userProperties.site:-x:-y}/$lit/${body.items.0.id}')
    assert.ok(typeof t !== 'string')
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
    assert.deepEqual(parseTemplate('plain/text'), { source: 'plain/text', parts: ['plain/text'] })
    assert.deepEqual(parseTemplate(''), { source: '', parts: [] })
  })

  test('problems: unbalanced, nested, empty, unknown', () => {
    assert.match(parseTemplate('x${tags') as string, /unbalanced braces: the \$\{ at character 2 is not closed/)
    assert.match(parseTemplate('x}') as string, /the \} at character 2 closes no \$\{/)
    assert.match(parseTemplate('${a${b}}') as string, /unbalanced braces/)
    assert.match(parseTemplate('${}') as string, /empty placeholder/)
    assert.match(parseTemplate('${messageID}') as string, /unknown placeholder \$\{messageID\}.*did you mean "messageId"/)
  })
})

describe('parseTopicTemplate', () => {
  test('levels, the subtopic level, the written-out parent and the profile pattern per level', () => {
    const t = parseTopicTemplate('alarms/${tags}-x/${mqttSecondTopic}', PROFILES.alibaba)
    assert.ok(typeof t !== 'string')
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
    const t = parseTopicTemplate('devices/p2p/${userProperties.client}', PROFILES.alibaba)
    assert.ok(typeof t !== 'string')
    assert.equal(t.levels[2]!.pattern, PROFILES.alibaba.p2pClientIdPattern)
  })

  test('a fully literal topic is checked as a whole topic', () => {
    assert.match(parseTopicTemplate('ab', PROFILES.alibaba) as string, /at least 3/)
    assert.ok(typeof parseTopicTemplate('abc/def', PROFILES.alibaba) !== 'string')
  })
})

describe('fields and suggestions', () => {
  test('parseField per use', () => {
    assert.deepEqual(parseField('keys', 'filter'), { kind: 'keys' })
    assert.match(parseField('messageId', 'filter') as string, /cannot be filtered on/)
    assert.deepEqual(parseField('messageId', 'placeholder'), { kind: 'messageId' })
    assert.deepEqual(parseField('userProperties.a.b', 'filter'), { kind: 'userProperties', name: 'a.b' })
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
