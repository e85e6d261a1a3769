// Routes at mapping time: which route a message takes, the topic its templates render, the filters, and
// the dead-letter reasons that name the placeholder and the value.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { RocketMessage } from '../../../shared/events/message.js'
import { mapMessage } from '../../../shared/mapping/map-message.js'
import type { MapResult } from '../../../shared/mapping/publish.js'
import { message, type RawRule, rawRule, ruleIndex } from '../../helpers/factories.js'

type Route = Record<string, unknown>

/** Rule 1 (topic-1 -> parent1) with these routes. */
const rules = (routes: Route[], over: Record<string, unknown> = {}): RawRule[] => [rawRule(1, { routes, ...over })]

function map(msg: RocketMessage, rs: RawRule[], defaults?: Record<string, unknown>): MapResult {
  return mapMessage(msg, ruleIndex(rs, defaults))
}

/** What became of a message: published, filtered, or a dead letter. */
const kindOf = (r: MapResult) => (r.ok ? r.value.kind : 'dead-letter')

function published(msg: RocketMessage, rs: RawRule[], defaults?: Record<string, unknown>) {
  const r = map(msg, rs, defaults)
  assert.ok(r.ok && r.value.kind === 'publish', `expected a publish, got ${JSON.stringify(r)}`)
  return r.value
}

function deadReason(msg: RocketMessage, rs: RawRule[], defaults?: Record<string, unknown>): string {
  const r = map(msg, rs, defaults)
  assert.ok(!r.ok, `expected a dead letter, got ${JSON.stringify(r)}`)
  assert.equal(r.ruleId, 'rule-1')
  return r.reason
}

const body = (value: unknown, over: Partial<RocketMessage> = {}) => message({ body: JSON.stringify(value), ...over })
const props = (userProperties: Record<string, string>, over: Partial<RocketMessage> = {}) => message({ userProperties, ...over })

describe('routes: the first route whose when accepts the message', () => {
  const rs = rules([
    { when: { 'body.kind': 'alarm' }, topic: 'alarms/${body.site}', qos: 2 },
    { when: { 'userProperties.region': ['eu-1', 'eu-2'] }, topic: 'parent1/eu/${userProperties.region}' },
    { when: { tags: { prefix: 'Tag' }, keys: { exists: true } }, topic: 'parent1/tagged/${keys}' },
  ])

  test('by a JSON body field', () => {
    const r = published(body({ kind: 'alarm', site: 'hz' }), rs)
    assert.equal(r.route, 0)
    assert.equal(r.publish.topic, 'alarms/hz')
    assert.equal(r.publish.qos, 2)
  })

  test('by a user property, one of a list', () => {
    const r = published(props({ region: 'eu-2' }), rs)
    assert.equal(r.route, 1)
    assert.equal(r.publish.topic, 'parent1/eu/eu-2')
  })

  test('all conditions of one when must hold: prefix and presence (the message keys, KEYS)', () => {
    assert.equal(published(message({ tags: 'TagA', keys: 'order-7' }), rs).publish.topic, 'parent1/tagged/order-7')
    assert.equal(published(message({ tags: 'TagA' }), rs).route, 'target', 'no KEYS: the route does not hold')
    assert.equal(published(message({ tags: 'Other', keys: 'order-7' }), rs).route, 'target', 'no prefix: the route does not hold')
  })

  test('a message no route accepts takes the target, mqttSecondTopic and all (today, Alibaba-compatible)', () => {
    const r = published(props({ mqttSecondTopic: '/room1/lamp', region: 'us-1' }), rs)
    assert.equal(r.route, 'target')
    assert.equal(r.publish.topic, 'parent1/room1/lamp')
  })

  test('the earlier route wins when two accept a message', () => {
    const r = published(body({ kind: 'alarm', site: 'hz' }, { userProperties: { region: 'eu-1' } }), rs)
    assert.equal(r.route, 0)
  })

  test('unmatched: skip filters a message no route accepts; its properties are not checked', () => {
    const r = map(props({ qoslevel: '9' }), rules([{ when: { tags: 'A' }, topic: 'parent1/a' }], { unmatched: 'skip' }))
    assert.ok(r.ok && r.value.kind === 'filtered', JSON.stringify(r))
    assert.equal(r.value.ruleId, 'rule-1')
    assert.match(r.value.reason, /no route of rule "rule-1" accepts it, and the rule says unmatched: skip/)
  })
})

describe('routes: filters compare text', () => {
  const rs = rules([{ when: { 'body.level': 3, 'body.on': true }, topic: 'parent1/hit' }], { unmatched: 'skip' })
  const hit = (v: unknown) => kindOf(map(body(v), rs)) === 'publish'

  test('a number or boolean in the rule matches the body value as text', () => {
    assert.equal(hit({ level: 3, on: true }), true)
    assert.equal(hit({ level: '3', on: 'true' }), true)
    assert.equal(hit({ level: 4, on: true }), false)
  })

  test('a JSON object or list equals no value; null and empty text count as missing', () => {
    assert.equal(hit({ level: { v: 3 }, on: true }), false)
    const exists = rules([{ when: { 'body.x': { exists: false } }, topic: 'parent1/none' }], { unmatched: 'skip' })
    assert.equal(kindOf(map(body({ x: null }), exists)) === 'publish', true)
    assert.equal(kindOf(map(body({ x: '' }), exists)) === 'publish', true)
    assert.equal(kindOf(map(body({ x: {} }), exists)) === 'publish', false, 'an object is present')
    assert.equal(kindOf(map(message({ body: 'not json' }), exists)) === 'publish', true, 'a body that is not JSON has no fields')
  })

  test('a body path reads own properties only: __proto__ and constructor find nothing', () => {
    const rs2 = rules(
      [
        { when: { 'body.__proto__': { exists: true } }, topic: 'parent1/proto' },
        { when: { 'body.constructor.name': { exists: true } }, topic: 'parent1/ctor' },
        { when: { 'body.a.length': { exists: true } }, topic: 'parent1/len' },
      ],
      { unmatched: 'skip' },
    )
    assert.equal(kindOf(map(body({ a: [1, 2] }), rs2)) === 'publish', false)
    assert.equal(
      kindOf(map(message({ body: '{"__proto__": {"x": 1}}' }), rs2)) === 'publish',
      true,
      'an own __proto__ key in the JSON is the message’s own',
    )
  })
})

describe('routes: templates', () => {
  test('every placeholder, array indices, defaults, and ${mqttSecondTopic} filling its levels', () => {
    const msg = message({
      tags: 'TagA',
      keys: 'k1',
      userProperties: { site: 'hz', mqttSecondTopic: '/a/b' },
      body: JSON.stringify({ items: [{ id: 'd1' }] }),
    })
    const rs = rules(
      [{ when: {}, topic: 'parent1/${topic}/${tags}/${keys}/${messageId}/${userProperties.site}/${body.items.0.id}/${mqttSecondTopic}' }],
      {},
    )
    assert.equal(
      published(msg, rs, { profile: 'mqtt' }).publish.topic,
      'parent1/topic-1/TagA/k1/AC14C305069E1B28CA003E5A7B5E0001/hz/d1/a/b',
    )
    const fallback = rules([{ when: {}, topic: 'parent1/${userProperties.site:-unknown}/x-${tags:-none}/${mqttSecondTopic:-}' }])
    assert.equal(published(message(), fallback).publish.topic, 'parent1/unknown/x-none')
  })

  test('a value with /, +, #, a leading $ or NUL is a dead letter naming the placeholder and the value', () => {
    const rs = rules([{ when: {}, topic: 'parent1/${userProperties.site}' }])
    const mqtt = { profile: 'mqtt' }
    assert.equal(
      deadReason(props({ site: 'eu/1' }), rs, mqtt),
      `routes[0].topic: \${userProperties.site} is "eu/1", which contains '/': a placeholder fills one topic level`,
    )
    assert.match(
      deadReason(props({ site: 'a+' }), rs, mqtt),
      /^routes\[0\]\.topic: \$\{userProperties\.site\} is "a\+", which contains a wildcard \('\+'\)/,
    )
    assert.match(deadReason(props({ site: '#' }), rs, mqtt), /is "#", which contains a wildcard \('#'\)/)
    assert.match(deadReason(props({ site: '$SYS' }), rs, mqtt), /is "\$SYS", which starts with '\$'/)
    assert.match(deadReason(props({ site: 'a\u0000' }), rs, mqtt), /which contains a NUL character/)
    assert.match(deadReason(props({ site: '\uD800' }), rs, mqtt), /which is not well-formed Unicode/)
    assert.match(
      deadReason(props({ site: 'room.1' }), rs),
      /is "room\.1", which has a character other than letters, digits, '-' and '_' \(profile alibaba\)/,
    )
  })

  test('a missing value without a default, a JSON object, a body that is not JSON', () => {
    const rs = rules([{ when: {}, topic: 'parent1/${body.device.id}' }])
    assert.equal(
      deadReason(body({}), rs),
      'routes[0].topic: ${body.device.id} is missing and has no default (such as ${body.device.id:-unknown})',
    )
    assert.match(deadReason(body({ device: { id: { x: 1 } } }), rs), /\$\{body\.device\.id\} is a JSON object, not a value/)
    assert.match(deadReason(body({ device: { id: [1] } }), rs), /is a JSON list, not a value/)
    assert.match(deadReason(message({ body: 'TEST' }), rs), /\$\{body\.device\.id\} is missing: the body is not JSON/)
  })

  test("the profile's topic limits apply to the rendered topic", () => {
    const rs = rules([{ when: {}, topic: 'parent1/${userProperties.site}' }])
    assert.match(
      deadReason(props({ site: 'x'.repeat(60) }), rs),
      /^routes\[0\]\.topic: topic is 68 characters long; profile alibaba allows at most 64/,
    )
  })

  test('${mqttSecondTopic} keeps what the target allows, /p2p/<clientId> too, and refuses what it refuses', () => {
    const rs = rules([{ when: {}, topic: 'parent1/${mqttSecondTopic}' }])
    assert.equal(published(props({ mqttSecondTopic: '/p2p/GID_x@@@dev1' }), rs).publish.topic, 'parent1/p2p/GID_x@@@dev1')
    assert.match(deadReason(props({ mqttSecondTopic: '/a//b' }), rs), /\$\{mqttSecondTopic\} is "\/a\/\/b": has an empty level/)
    assert.match(deadReason(props({ mqttSecondTopic: '/a/+' }), rs), /its level "\+" contains a wildcard/)
    assert.match(deadReason(message(), rs), /\$\{mqttSecondTopic\} is missing and has no default/)
  })
})

describe('routes: each value checked against the level the template writes it in (profile alibaba)', () => {
  const tele = rules([{ when: {}, topic: 'parent1/${body.site}/${body.deviceId}' }])

  test("a body value cannot turn a broadcast into a point-to-point message: 'p2p' where the template does not write it", () => {
    const reason = deadReason(body({ site: 'p2p', deviceId: 'GID_ops' }), tele)
    assert.match(reason, /^routes\[0\]\.topic: \$\{body\.site\} is 'p2p' in the second level/)
    assert.match(reason, /allowed only where the template writes p2p itself/)
    const split = rules([{ when: {}, topic: 'parent1/${body.a}${body.b}/${body.c}' }])
    assert.match(deadReason(body({ a: 'p2', b: 'p', c: 'x' }), split), /is 'p2p' in the second level/)
  })

  test("'@' is refused in a level the template does not write as a p2p client ID", () => {
    assert.match(
      deadReason(body({ site: 'hz', deviceId: 'GID_ops@@@admin-console' }), tele),
      /\$\{body\.deviceId\} is "GID_ops@@@admin-console", which has a character other than letters, digits, '-' and '_' \(profile alibaba\)/,
    )
    assert.equal(published(body({ site: 'hz', deviceId: 'd-7' }), tele).publish.topic, 'parent1/hz/d-7')
  })

  test('a template that writes p2p itself takes a client ID with @ in its third level', () => {
    const p2p = rules([{ when: {}, topic: 'parent1/p2p/${body.client}' }])
    assert.equal(published(body({ client: 'GID_ops@@@dev1' }), p2p).publish.topic, 'parent1/p2p/GID_ops@@@dev1')
    assert.match(deadReason(body({ client: 'GID/x' }), p2p), /contains '\/'/)
  })

  test('profile mqtt has no p2p form: the value p2p is an ordinary level', () => {
    assert.equal(published(body({ site: 'p2p', deviceId: 'a@b' }), tele, { profile: 'mqtt' }).publish.topic, 'parent1/p2p/a@b')
  })
})

describe('routes: QoS, retain, user properties, the message group', () => {
  test("QoS: the producer's qoslevel, else the route's, else the target's", () => {
    const rs = rules(
      [
        { when: { tags: 'A' }, topic: 'parent1/a', qos: 2 },
        { when: { tags: 'B' }, topic: 'parent1/b' },
      ],
      { target: { qos: 0 } },
    )
    assert.equal(published(message({ tags: 'A' }), rs).publish.qos, 2)
    assert.equal(published(message({ tags: 'A', userProperties: { qoslevel: '1' } }), rs).publish.qos, 1)
    assert.equal(published(message({ tags: 'B' }), rs).publish.qos, 0)
    assert.match(deadReason(message({ tags: 'A', userProperties: { qoslevel: '5' } }), rs), /qoslevel: must be 0, 1 or 2, got "5"/)
  })

  test("retain: the route's, else the target's", () => {
    const rs = rules(
      [
        { when: { tags: 'A' }, topic: 'parent1/a', retain: true },
        { when: {}, topic: 'parent1/b' },
      ],
      { target: { retain: false } },
    )
    assert.equal(published(message({ tags: 'A' }), rs).publish.retain, true)
    assert.equal(published(message({ tags: 'B' }), rs).publish.retain, false)
  })

  test("the route's user properties join the message's own; a name both use keeps both; a __proto__ name stays a name", () => {
    const route = { when: {}, topic: 'parent1/x', userProperties: JSON.parse('{"site": "at-${userProperties.site}", "__proto__": "p"}') }
    const rs2 = rules([route], { target: { forwardUserProperties: true } })
    const p = published(props({ site: 'hz' }), rs2).publish
    assert.deepEqual(p.properties?.userProperties?.['site'], ['hz', 'at-hz'])
    assert.ok(Object.hasOwn(p.properties!.userProperties!, '__proto__'))
    assert.equal(Object.getPrototypeOf(p.properties!.userProperties), null, "no prototype, like the mapping's own user properties")
  })

  test('a user property template with a missing value is a dead letter naming the property', () => {
    const rs = rules([{ when: {}, topic: 'parent1/x', userProperties: { site: '${userProperties.site}' } }])
    assert.match(deadReason(message(), rs), /^routes\[0\]\.userProperties\.site: \$\{userProperties\.site\} is missing/)
  })

  test('ordering: message-group carries the group to the planned record; other rules do not', () => {
    const group = { messageGroup: 'order-42' }
    assert.equal(published(message(group), [rawRule(1, { ordering: 'message-group' })]).messageGroup, 'order-42')
    assert.equal(published(message(group), [rawRule(1)]).messageGroup, undefined)
    assert.equal(published(message(), [rawRule(1, { ordering: 'message-group' })]).messageGroup, undefined)
  })
})

describe('routes: the body is parsed at most once, and only when a route reads it', () => {
  function countingParse<T>(run: () => T): { result: T; parses: number } {
    const original = JSON.parse
    let parses = 0
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
      parses++
      return original(...args)
    }) as typeof JSON.parse
    try {
      return { result: run(), parses }
    } finally {
      JSON.parse = original
    }
  }

  test('three routes and a template reading the body: one parse', () => {
    const index = ruleIndex(
      rules([
        { when: { 'body.a': 'x' }, topic: 'parent1/a' },
        { when: { 'body.b': 'x' }, topic: 'parent1/b' },
        { when: { 'body.c': 'x' }, topic: 'parent1/${body.d}' },
      ]),
    )
    const { result, parses } = countingParse(() => mapMessage(body({ c: 'x', d: 'dd' }), index))
    assert.ok(result.ok && result.value.kind === 'publish' && result.value.publish.topic === 'parent1/dd')
    assert.equal(parses, 1)
  })

  test('routes on properties only, or a message decided before any body route: no parse', () => {
    const index = ruleIndex(
      rules([
        { when: { tags: 'A' }, topic: 'parent1/a' },
        { when: { 'body.b': 'x' }, topic: 'parent1/b' },
      ]),
    )
    assert.equal(countingParse(() => mapMessage(body({ b: 'x' }, { tags: 'A' }), index)).parses, 0)
    assert.equal(countingParse(() => mapMessage(body({ b: 'x' }), ruleIndex([rawRule(1)]))).parses, 0)
  })
})
