// Values rendered exactly (docs/rules.md, "Templates" and "Filters"): a number in a JSON body reaches the topic
// and the user properties as the producer wrote it, whatever its size; a filter value keeps the text the rules
// file gives it; a numeric __SHARDINGKEY is a message group.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { parseEvent } from '../../../shared/events/parse.js'
import { mapMessage } from '../../../shared/mapping/map-message.js'
import type { MapResult } from '../../../shared/mapping/publish.js'
import { RuleIndex } from '../../../shared/mapping/rule-index.js'
import { validateRulesText } from '../../../shared/rules/validate.js'
import { INSTANCE, message, rawRule, ruleIndex } from '../../helpers/factories.js'

const RUNS = 2000

/** Rule 1, profile mqtt: a route that puts body.n into the topic and into a user property. */
const numbers = ruleIndex(
  [rawRule(1, { routes: [{ when: {}, topic: 'nums/${body.n}/${body.list.1}', userProperties: { n: '${body.n}' } }] })],
  { profile: 'mqtt' },
)

const mapBody = (text: string, index = numbers): MapResult => mapMessage(message({ body: text }), index)

function published(r: MapResult) {
  assert.ok(r.ok && r.value.kind === 'publish', `expected a publish, got ${JSON.stringify(r)}`)
  return r.value.publish
}

/** A JSON number's text: integers of any length, decimals, exponents, -0. */
const jsonNumber = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,40}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,30}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^[0-9]{1,4}$/)), { nil: undefined }),
  )
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac !== undefined ? `.${frac}` : ''}${exp ? exp.join('') : ''}`)

describe('exact values: JSON numbers in templates', () => {
  test('a route that reads only text never reads the body a second time', () => {
    const index = ruleIndex([rawRule(1, { routes: [{ when: { 'body.k': 'a' }, topic: 'p/${body.s}' }] })], { profile: 'mqtt' })
    // 1.10 would send the body to lossless-json, were a number read; a deep body there would make that fail.
    const deep = `${'['.repeat(100000)}1.10${']'.repeat(100000)}`
    assert.equal(published(mapBody(`{"k": "a", "s": "text", "deep": ${deep}}`, index)).topic, 'p/text')
  })

  test('property: any JSON number in a body comes out of a template byte-exact', () => {
    fc.assert(
      fc.property(jsonNumber, jsonNumber, (n, m) => {
        JSON.parse(`[${n}, ${m}]`) // the generator makes JSON
        // Short integers read back from a double (JSON.parse's path); the others keep their text (lossless-json's).
        const r = mapBody(`{"s": "x", "n": ${n}, "list": [1.5, ${m}]}`)
        if (n.includes('+') || m.includes('+')) {
          // '+' is a wildcard: no topic may hold it, and the reason names the value exactly.
          assert.ok(!r.ok, JSON.stringify(r))
          assert.match(r.reason, /wildcard/)
          assert.ok(r.reason.includes(JSON.stringify(n.includes('+') ? n : m)), r.reason)
          return
        }
        const p = published(r)
        assert.equal(p.topic, `nums/${n}/${m}`)
        assert.deepEqual(p.properties?.userProperties?.['n'], n)
      }),
      { numRuns: RUNS },
    )
  })

  test("the issue's values: 2^53 + 1, twenty digits, -0, 1.10 and 1e400 go out as written", () => {
    for (const n of ['9007199254740993', '12345678901234567891', '-0', '1.10', '1e400', '0.1', '5e-324', '1E5'])
      assert.equal(published(mapBody(`{"n": ${n}, "list": [0, 7]}`)).topic, `nums/${n}/7`, n)
  })

  test('snowflake IDs next to each other reach different topics', () => {
    const topics = new Set<string>()
    for (let k = 0n; k < 256n; k++) topics.add(published(mapBody(`{"n": ${1_500_000_000_000_000_000n + k}, "list": [0, 1]}`)).topic)
    assert.equal(topics.size, 256)
  })

  test('1e400 is a value, not missing: the default does not take its place', () => {
    const index = ruleIndex([rawRule(1, { routes: [{ when: {}, topic: 'nums/${body.n:-none}' }] })], { profile: 'mqtt' })
    assert.equal(published(mapBody('{"n": 1e400}', index)).topic, 'nums/1e400')
    assert.equal(published(mapBody('{"m": 1e400}', index)).topic, 'nums/none')
  })

  test('a body read exactly is still read safely: duplicate keys keep the last, __proto__ is its own key', () => {
    const index = ruleIndex([rawRule(1, { routes: [{ when: {}, topic: 'p/${body.a}/${body.__proto__.x}' }] })], { profile: 'mqtt' })
    assert.equal(published(mapBody('{"a": 1.10, "a": 2.50, "__proto__": {"x": 1.0}}', index)).topic, 'p/2.50/1.0')
    // JSON.parse reads a body nested this deep; lossless-json recurses, and says so instead of overflowing.
    const deep = `${'['.repeat(100000)}0${']'.repeat(100000)}`
    const r = mapBody(`{"a": 1.10, "__proto__": {"x": 1}, "deep": ${deep}}`, index)
    assert.ok(!r.ok, JSON.stringify(r).slice(0, 200))
    assert.match(r.reason, /^routes\[0\]\.topic: \$\{body\.a\} is missing: the body is JSON nested too deeply to read its numbers exactly/)
  })
})

describe('exact values: filter values keep their text', () => {
  const yaml = (when: string) => `
defaults: { profile: mqtt }
rules:
  - id: rule-1
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: topic-1, groupId: GID_bridge_1 }
    target: { parentTopic: parent1 }
    routes:
      - when: ${when}
        topic: parent1/hit
    unmatched: skip
`
  function indexOf(text: string): RuleIndex {
    const r = validateRulesText(text)
    assert.ok(r.ok, JSON.stringify(r))
    return new RuleIndex(r.ruleSet, r.model)
  }
  const hit = (index: RuleIndex, m = message()) => {
    const r = mapMessage(m, index)
    return r.ok && r.value.kind === 'publish'
  }

  test('version: 1.10 matches the text "1.10", not "1.1"', () => {
    const index = indexOf(yaml('{ userProperties.version: 1.10 }'))
    assert.equal(hit(index, message({ userProperties: { version: '1.10' } })), true)
    assert.equal(hit(index, message({ userProperties: { version: '1.1' } })), false)
  })

  test('0x1F, 007 and big integers stay as written; a body number compares as its text', () => {
    const index = indexOf(yaml('{ body.id: [0x1F, 007, 12345678901234567891] }'))
    for (const id of ['"0x1F"', '"007"', '12345678901234567891']) assert.equal(hit(index, message({ body: `{"id": ${id}}` })), true, id)
    for (const id of ['31', '7', '12345678901234567000', '12345678901234567892'])
      assert.equal(hit(index, message({ body: `{"id": ${id}}` })), false, id)
  })

  test('in a JSON rules file too', () => {
    const json = `{"defaults": {"profile": "mqtt"}, "rules": [{"id": "rule-1",
      "source": {"regionId": "cn-hangzhou", "instanceId": "${INSTANCE}", "topic": "topic-1", "groupId": "GID_bridge_1"},
      "target": {"parentTopic": "parent1"}, "unmatched": "skip",
      "routes": [{"when": {"userProperties.version": 1.10, "body.n": 9007199254740993}, "topic": "parent1/hit", "qos": 1.0}]}]}`
    const index = indexOf(json)
    assert.equal(hit(index, message({ userProperties: { version: '1.10' }, body: '{"n": 9007199254740993}' })), true)
    assert.equal(hit(index, message({ userProperties: { version: '1.10' }, body: '{"n": 9007199254740992}' })), false)
    assert.equal(hit(index, message({ userProperties: { version: '1.1' }, body: '{"n": 9007199254740993}' })), false)
  })

  test("a number in a route's user properties keeps its text too", () => {
    const index = indexOf(
      yaml('{}').replace('topic: parent1/hit', 'topic: parent1/hit\n        userProperties: { version: 1.50, id: 12345678901234567891 }'),
    )
    const r = mapMessage(message(), index)
    assert.ok(r.ok && r.value.kind === 'publish', JSON.stringify(r))
    assert.deepEqual({ ...r.value.publish.properties?.userProperties }, { version: '1.50', id: '12345678901234567891' })
  })

  test('the compiled model shows the filter value as written', () => {
    const r = validateRulesText(yaml('{ userProperties.version: 1.10 }'))
    assert.ok(r.ok)
    assert.deepEqual(r.model.rule('rule-1')?.outlets[0]?.filters, [
      { field: 'userProperties.version', test: { kind: 'equals', value: '1.10' } },
    ])
  })
})

describe('exact values: a numeric __SHARDINGKEY is a message group', () => {
  test('the group of an ordered rule, as text', () => {
    const index = ruleIndex([rawRule(1, { ordering: 'message-group' })])
    const event = [{ topic: 'topic-1', systemProperties: { INSTANCE_ID: INSTANCE, __SHARDINGKEY: 42 }, body: 'x' }]
    const [m] = parseEvent(Buffer.from(JSON.stringify(event))).messages
    const r = mapMessage(m!, index)
    assert.ok(r.ok && r.value.kind === 'publish', JSON.stringify(r))
    assert.equal(r.value.messageGroup, '42')
  })
})
