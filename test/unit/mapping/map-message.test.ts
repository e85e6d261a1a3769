import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { RocketMessage } from '../../../shared/events/message.js'
import { mapMessage } from '../../../shared/mapping/map-message.js'
import type { MapResult, Publish } from '../../../shared/mapping/publish.js'
import { INSTANCE, message, type RawRule, rawRule, ruleIndex } from '../../helpers/factories.js'

type Defaults = Record<string, unknown> | undefined

function map(msg: RocketMessage, rules: RawRule[] = [rawRule(1)], defaults?: Defaults): MapResult {
  return mapMessage(msg, ruleIndex(rules, defaults))
}

function publishOf(msg: RocketMessage, rules?: RawRule[], defaults?: Defaults): Publish {
  const r = map(msg, rules, defaults)
  assert.ok(r.ok && r.value.kind === 'publish', `expected a publish, got ${JSON.stringify(r)}`)
  return r.value.publish
}

/** A poison result whose reason starts with `prefix` (what and where) and contains every fragment. */
function poisonOf(
  msg: RocketMessage,
  prefix: string,
  fragments: string[] = [],
  rules?: RawRule[],
  defaults?: Defaults,
): { reason: string; ruleId?: string } {
  const r = map(msg, rules, defaults)
  assert.equal(r.ok, false, `expected poison, got ${JSON.stringify(r)}`)
  if (r.ok) throw new Error('unreachable')
  assert.ok(r.reason.startsWith(prefix), `reason ${JSON.stringify(r.reason)} should start with ${JSON.stringify(prefix)}`)
  for (const f of fragments) assert.ok(r.reason.includes(f), `reason ${JSON.stringify(r.reason)} should contain ${JSON.stringify(f)}`)
  return r
}

/** User properties as the mapping makes them: a map with no prototype. */
const userMap = (entries: Record<string, string | string[]>) =>
  Object.assign(Object.create(null) as Record<string, string | string[]>, entries)

const withProps = (userProperties: Record<string, string>, over: Partial<RocketMessage> = {}) => message({ userProperties, ...over })

describe('mapping: topic (mqttSecondTopic)', () => {
  test('no mqttSecondTopic: the parent topic alone', () => {
    assert.equal(publishOf(message()).topic, 'parent1')
  })

  test('empty mqttSecondTopic: the parent topic alone', () => {
    assert.equal(publishOf(withProps({ mqttSecondTopic: '' })).topic, 'parent1')
  })

  test('subtopic with a leading / is appended', () => {
    assert.equal(publishOf(withProps({ mqttSecondTopic: '/room1/lamp' })).topic, 'parent1/room1/lamp')
  })

  test('missing leading / is added', () => {
    assert.equal(publishOf(withProps({ mqttSecondTopic: 'room1/lamp' })).topic, 'parent1/room1/lamp')
  })

  test("empty level ('//') is poison", () => {
    poisonOf(withProps({ mqttSecondTopic: '/room1//lamp' }), 'userProperties.mqttSecondTopic', ['empty level', '"parent1/room1//lamp"'])
  })

  test("leading '//' is poison", () => {
    poisonOf(withProps({ mqttSecondTopic: '//lamp' }), 'userProperties.mqttSecondTopic', ['empty level'])
  })

  test("trailing '/' is poison", () => {
    poisonOf(withProps({ mqttSecondTopic: '/room1/' }), 'userProperties.mqttSecondTopic', ["ends with '/'"])
  })

  test("a lone '/' is poison (trailing '/')", () => {
    poisonOf(withProps({ mqttSecondTopic: '/' }), 'userProperties.mqttSecondTopic', ["ends with '/'"])
  })

  test("'+' is poison", () => {
    const r = poisonOf(withProps({ mqttSecondTopic: '/room1/+' }), 'userProperties.mqttSecondTopic', ['wildcard'])
    assert.equal(r.ruleId, 'rule-1')
  })

  test("'#' is poison (also in profile mqtt)", () => {
    poisonOf(withProps({ mqttSecondTopic: '/#' }), 'userProperties.mqttSecondTopic', ['wildcard'], [rawRule(1)], { profile: 'mqtt' })
  })

  test('NUL is poison (also in profile mqtt)', () => {
    poisonOf(withProps({ mqttSecondTopic: '/room\u00001' }), 'userProperties.mqttSecondTopic', ['NUL'], [rawRule(1)], { profile: 'mqtt' })
  })

  test('characters outside [A-Za-z0-9_-] are poison in profile alibaba, fine in profile mqtt', () => {
    poisonOf(withProps({ mqttSecondTopic: '/room.1' }), 'userProperties.mqttSecondTopic', ['"room.1"', 'profile alibaba'])
    assert.equal(publishOf(withProps({ mqttSecondTopic: '/room.1' }), [rawRule(1)], { profile: 'mqtt' }).topic, 'parent1/room.1')
  })

  test('/p2p/<clientId> passes through in profile alibaba', () => {
    const p = publishOf(withProps({ mqttSecondTopic: '/p2p/GID_xxx@@@DEVICEID_001' }))
    assert.equal(p.topic, 'parent1/p2p/GID_xxx@@@DEVICEID_001')
  })

  test("'@' outside a p2p client ID level is poison in profile alibaba", () => {
    poisonOf(withProps({ mqttSecondTopic: '/devices/GID_xxx@@@DEVICEID_001' }), 'userProperties.mqttSecondTopic', [
      '"GID_xxx@@@DEVICEID_001"',
    ])
    poisonOf(withProps({ mqttSecondTopic: '/p2p/GID_xxx@@@DEVICEID_001/extra' }), 'userProperties.mqttSecondTopic', [
      '"GID_xxx@@@DEVICEID_001"',
    ])
  })

  test('total topic of 64 characters is fine, 65 is poison in profile alibaba', () => {
    // "parent1" + "/" + n characters
    assert.equal(publishOf(withProps({ mqttSecondTopic: '/' + 'a'.repeat(56) })).topic.length, 64)
    poisonOf(withProps({ mqttSecondTopic: '/' + 'a'.repeat(57) }), 'userProperties.mqttSecondTopic', [
      'is 65 characters long',
      'at most 64',
    ])
  })

  test('topic shorter than 3 characters is poison in profile alibaba', () => {
    poisonOf(
      message(),
      'userProperties.mqttSecondTopic',
      ['is 2 characters long', 'at least 3'],
      [rawRule(1, { target: { parentTopic: 'ab' } })],
    )
  })

  test('profile mqtt counts UTF-8 bytes against 65535', () => {
    // "parent1/" is 8 bytes; fill the rest with 2-byte characters (and one 1-byte one to reach 65535 exactly).
    const fits = '/' + 'é'.repeat(Math.floor((65535 - 8) / 2)) + 'a'.repeat((65535 - 8) % 2)
    assert.equal(Buffer.byteLength('parent1' + fits), 65535)
    assert.equal(publishOf(withProps({ mqttSecondTopic: fits }), [rawRule(1)], { profile: 'mqtt' }).topic, 'parent1' + fits)
    poisonOf(withProps({ mqttSecondTopic: fits + 'a' }), 'userProperties.mqttSecondTopic', ['65536 bytes', 'at most 65535'], [rawRule(1)], {
      profile: 'mqtt',
    })
  })
})

describe('mapping: QoS (qoslevel)', () => {
  for (const level of [0, 1, 2] as const) {
    test(`qoslevel ${level}`, () => {
      assert.equal(publishOf(withProps({ qoslevel: String(level) }), [rawRule(1, { target: { qos: level === 2 ? 0 : 2 } })]).qos, level)
    })
  }

  test('no qoslevel: the rule QoS', () => {
    assert.equal(publishOf(message(), [rawRule(1, { target: { qos: 2 } })]).qos, 2)
    assert.equal(publishOf(message(), [rawRule(1, { target: { qos: 0 } })], { qos: 2 }).qos, 0)
  })

  test('no qoslevel and no rule QoS: defaults.qos', () => {
    assert.equal(publishOf(message(), [rawRule(1)], { qos: 0 }).qos, 0)
    assert.equal(publishOf(message(), [rawRule(1)], { qos: 2 }).qos, 2)
  })

  test('no qoslevel, no rule QoS, no defaults: 1', () => {
    assert.equal(publishOf(message()).qos, 1)
  })

  for (const bad of ['3', '-1', 'one', '1.5', ' 1', '01', '']) {
    test(`qoslevel ${JSON.stringify(bad)} is poison`, () => {
      const r = poisonOf(withProps({ qoslevel: bad }), 'userProperties.qoslevel', ['must be 0, 1 or 2', `got ${JSON.stringify(bad)}`])
      assert.equal(r.ruleId, 'rule-1')
    })
  }
})

describe('mapping: cleansessionflag', () => {
  for (const v of ['true', 'false']) {
    test(`cleansessionflag ${v} is accepted and changes nothing`, () => {
      const plain = publishOf(message())
      const flagged = publishOf(withProps({ cleansessionflag: v }))
      assert.deepEqual(flagged, plain)
    })
  }

  for (const bad of ['TRUE', 'yes', '1', '']) {
    test(`cleansessionflag ${JSON.stringify(bad)} is poison`, () => {
      poisonOf(withProps({ cleansessionflag: bad }), 'userProperties.cleansessionflag', [
        'must be true or false',
        `got ${JSON.stringify(bad)}`,
      ])
    })
  }
})

describe('mapping: MQTT 5 properties', () => {
  test('no MQTT 5 properties: none on the publish', () => {
    assert.equal(publishOf(withProps({ mqttSecondTopic: '/a', qoslevel: '0' })).properties, undefined)
  })

  test('mqttRealTopic becomes the user property mqttRealTopic', () => {
    const p = publishOf(withProps({ mqttRealTopic: 'devices/p2p/GID_x@@@D1' }))
    assert.deepEqual(p.properties, { userProperties: userMap({ mqttRealTopic: 'devices/p2p/GID_x@@@D1' }) })
  })

  test('mqttRealTopic with a NUL is poison', () => {
    poisonOf(withProps({ mqttRealTopic: 'a\u0000b' }), 'userProperties.mqttRealTopic', ['NUL'])
  })

  test('mqtt5UserProperty JSON array becomes user properties; a repeated key becomes an array', () => {
    const list = [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
      { key: 'a', value: '3' },
      { key: 'a', value: '4' },
    ]
    const p = publishOf(withProps({ mqtt5UserProperty: JSON.stringify(list) }))
    assert.deepEqual(p.properties, { userProperties: userMap({ a: ['1', '3', '4'], b: '2' }) })
  })

  test('mqtt5UserProperty empty array: no user properties', () => {
    assert.equal(publishOf(withProps({ mqtt5UserProperty: '[]' })).properties, undefined)
  })

  test('mqtt5UserProperty that is not JSON is poison', () => {
    poisonOf(withProps({ mqtt5UserProperty: 'key=value' }), 'userProperties.mqtt5UserProperty', ['not JSON'])
  })

  test('mqtt5UserProperty that is a JSON object, not an array, is poison', () => {
    poisonOf(withProps({ mqtt5UserProperty: '{"key":"a","value":"1"}' }), 'userProperties.mqtt5UserProperty', ['must be a JSON array'])
  })

  test('mqtt5UserProperty entry of the wrong shape names its index', () => {
    poisonOf(withProps({ mqtt5UserProperty: '[{"key":"a","value":"1"},{"key":"b"}]' }), 'userProperties.mqtt5UserProperty[1]', [
      '{"key": string, "value": string}',
    ])
    poisonOf(withProps({ mqtt5UserProperty: '[{"key":"a","value":1}]' }), 'userProperties.mqtt5UserProperty[0]', ['"value": string'])
    poisonOf(withProps({ mqtt5UserProperty: '["a"]' }), 'userProperties.mqtt5UserProperty[0]')
    poisonOf(withProps({ mqtt5UserProperty: '[null]' }), 'userProperties.mqtt5UserProperty[0]')
  })

  test('mqtt5UserProperty of exactly 8 KB is fine, over 8 KB is poison', () => {
    const listOf = (bytes: number) => {
      const shell = JSON.stringify([{ key: 'k', value: '' }])
      return JSON.stringify([{ key: 'k', value: 'v'.repeat(bytes - shell.length) }])
    }
    const fits = listOf(8192)
    assert.equal(Buffer.byteLength(fits), 8192)
    const shellBytes = JSON.stringify([{ key: 'k', value: '' }]).length
    assert.equal(publishOf(withProps({ mqtt5UserProperty: fits })).properties?.userProperties?.['k'], 'v'.repeat(8192 - shellBytes))
    poisonOf(withProps({ mqtt5UserProperty: listOf(8193) }), 'userProperties.mqtt5UserProperty', ['8193 bytes', 'at most 8192'])
  })

  test('mqtt5UserProperty size counts UTF-8 bytes', () => {
    const list = JSON.stringify([{ key: 'k', value: '日'.repeat(2800) }]) // 2800 characters, 8400 bytes
    assert.ok(list.length < 8192)
    poisonOf(withProps({ mqtt5UserProperty: list }), 'userProperties.mqtt5UserProperty', ['at most 8192'])
  })

  for (const v of ['0', '1', '3600', '65535']) {
    test(`mqtt5MsgExpireInterval ${v} becomes the message expiry`, () => {
      assert.deepEqual(publishOf(withProps({ mqtt5MsgExpireInterval: v })).properties, { messageExpiryInterval: Number(v) })
    })
  }

  for (const bad of ['65536', '-1', 'x', '1.5', '100000', '']) {
    test(`mqtt5MsgExpireInterval ${JSON.stringify(bad)} is poison`, () => {
      poisonOf(withProps({ mqtt5MsgExpireInterval: bad }), 'userProperties.mqtt5MsgExpireInterval', [
        '0 to 65535',
        `got ${JSON.stringify(bad)}`,
      ])
    })
  }

  test('mqtt5ContentType becomes the content type', () => {
    assert.deepEqual(publishOf(withProps({ mqtt5ContentType: 'application/json' })).properties, { contentType: 'application/json' })
  })

  test('mqtt5ContentType with a NUL is poison', () => {
    poisonOf(withProps({ mqtt5ContentType: 'text/\u0000plain' }), 'userProperties.mqtt5ContentType', ['NUL'])
  })

  test('all MQTT 5 properties together', () => {
    const p = publishOf(
      withProps({
        mqtt5UserProperty: '[{"key":"source","value":"erp"}]',
        mqtt5MsgExpireInterval: '60',
        mqtt5ContentType: 'UTF-8',
        mqttRealTopic: 'real/topic',
      }),
    )
    assert.deepEqual(p.properties, {
      userProperties: userMap({ source: 'erp', mqttRealTopic: 'real/topic' }),
      messageExpiryInterval: 60,
      contentType: 'UTF-8',
    })
  })
})

describe('mapping: W3C trace context', () => {
  const trace = {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  }

  test('traceparent and tracestate become MQTT 5 user properties of the same names, without forwardUserProperties', () => {
    const p = publishOf(withProps({ ...trace, orderId: '42' }))
    assert.deepEqual(p.properties, { userProperties: userMap(trace) })
  })

  test('with forwardUserProperties, each goes out once, beside the others', () => {
    const p = publishOf(withProps({ ...trace, orderId: '42' }), [rawRule(1, { target: { forwardUserProperties: true } })])
    assert.deepEqual(p.properties, { userProperties: userMap({ ...trace, orderId: '42' }) })
  })

  test('traceparent alone; a trace context with a NUL is poison naming it', () => {
    assert.deepEqual(publishOf(withProps({ traceparent: trace.traceparent })).properties, {
      userProperties: userMap({ traceparent: trace.traceparent }),
    })
    poisonOf(withProps({ tracestate: 'a\u0000b' }), 'userProperties.tracestate', ['NUL'])
  })
})

describe('mapping: forwardUserProperties', () => {
  const everything = {
    mqttSecondTopic: '/room1',
    qoslevel: '2',
    cleansessionflag: 'false',
    mqttRealTopic: 'real/topic',
    mqtt5UserProperty: '[{"key":"orderId","value":"from-list"}]',
    mqtt5MsgExpireInterval: '30',
    mqtt5ContentType: 'UTF-8',
    clientId: 'GID_x@@@D1',
    topic: 'parent1/somewhere',
    orderId: '42',
    region: 'eu',
  }

  test('copies the other user properties, never the mapped ones nor clientId/topic', () => {
    const p = publishOf(withProps(everything), [rawRule(1, { target: { forwardUserProperties: true } })])
    assert.equal(p.topic, 'parent1/room1')
    assert.equal(p.qos, 2)
    assert.deepEqual(p.properties, {
      userProperties: userMap({ orderId: ['from-list', '42'], mqttRealTopic: 'real/topic', region: 'eu' }),
      messageExpiryInterval: 30,
      contentType: 'UTF-8',
    })
  })

  test('without forwarding, other user properties and clientId/topic are ignored', () => {
    const p = publishOf(withProps({ clientId: 'GID_x@@@D1', topic: 'parent1/x', orderId: '42' }))
    assert.equal(p.properties, undefined)
    assert.equal(p.topic, 'parent1')
  })

  test('with forwarding, clientId and topic alone yield no user properties', () => {
    const p = publishOf(withProps({ clientId: 'GID_x@@@D1', topic: 'parent1/x' }), [
      rawRule(1, { target: { forwardUserProperties: true } }),
    ])
    assert.equal(p.properties, undefined)
  })

  test('a forwarded property with a NUL is poison naming the property', () => {
    poisonOf(withProps({ note: 'a\u0000b' }), 'userProperties.note', ['NUL'], [rawRule(1, { target: { forwardUserProperties: true } })])
  })
})

describe('mapping: payload', () => {
  test('utf8: the bytes of the string, exactly (multibyte included)', () => {
    const body = 'héllo 日本 🚀'
    const p = publishOf(message({ body }))
    assert.deepEqual([...p.payload], [...Buffer.from(body, 'utf8')])
    assert.equal(p.payload.length, 1 + 2 + 3 + 1 + 3 + 3 + 1 + 4) // h é llo ␠ 日 本 ␠ 🚀
    assert.deepEqual([...p.payload.subarray(0, 3)], [0x68, 0xc3, 0xa9])
    assert.deepEqual([...p.payload.subarray(p.payload.length - 4)], [0xf0, 0x9f, 0x9a, 0x80])
  })

  test('utf8: an empty body is an empty payload', () => {
    assert.equal(publishOf(message({ body: '' })).payload.length, 0)
  })

  test('base64: binary bytes exactly', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x0d, 0xc3, 0x28, 0xfe])
    const p = publishOf(message({ body: bytes.toString('base64') }), [rawRule(1, { target: { bodyEncoding: 'base64' } })])
    assert.deepEqual([...p.payload], [...bytes])
  })

  test('base64: every padding length', () => {
    for (const n of [0, 1, 2, 3, 4]) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => 250 - i))
      const p = publishOf(message({ body: bytes.toString('base64') }), [rawRule(1, { target: { bodyEncoding: 'base64' } })])
      assert.deepEqual([...p.payload], [...bytes])
    }
  })

  for (const bad of ['not base64!', 'QUJD=', 'QQ', 'QU JD', '@@@@']) {
    test(`base64: invalid body ${JSON.stringify(bad)} is poison naming the rule`, () => {
      poisonOf(message({ body: bad }), 'body:', ['"rule-1"', 'base64'], [rawRule(1, { target: { bodyEncoding: 'base64' } })])
    })
  }

  test('payload of 64 KB is fine, over 64 KB is poison in profile alibaba', () => {
    assert.equal(publishOf(message({ body: 'a'.repeat(65536) })).payload.length, 65536)
    poisonOf(message({ body: 'a'.repeat(65537) }), 'body:', ['65537 bytes', 'profile alibaba', 'at most 65536'])
  })

  test('payload limit counts bytes, not characters', () => {
    poisonOf(message({ body: 'é'.repeat(32769) }), 'body:', ['65538 bytes'])
  })

  test('base64: MIME-style line breaks are accepted, bytes exact', () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256))
    const wrapped = bytes.toString('base64').replace(/(.{76})/g, '$1\r\n')
    assert.ok(wrapped.includes('\r\n'))
    const p = publishOf(message({ body: wrapped }), [rawRule(1, { target: { bodyEncoding: 'base64' } })])
    assert.ok(p.payload.equals(bytes))
  })

  test('payload limit applies to the decoded base64 bytes', () => {
    const rules = [rawRule(1, { target: { bodyEncoding: 'base64' } })]
    assert.equal(publishOf(message({ body: Buffer.alloc(65536, 7).toString('base64') }), rules).payload.length, 65536)
    poisonOf(message({ body: Buffer.alloc(65537, 7).toString('base64') }), 'body:', ['65537 bytes'], rules)
  })

  test('payload over 64 KB is fine in profile mqtt', () => {
    assert.equal(publishOf(message({ body: 'a'.repeat(100_000) }), [rawRule(1)], { profile: 'mqtt' }).payload.length, 100_000)
  })

  test('a lone surrogate in the body is poison', () => {
    poisonOf(message({ body: 'ab\uD800cd' }), 'body:', ['lone surrogate'])
    poisonOf(message({ body: '\uDC00' }), 'body:', ['not well-formed Unicode'])
  })
})

describe('mapping: MQTT 5 string rules, on every profile and protocol version', () => {
  const forward = [rawRule(1, { target: { forwardUserProperties: true } })]
  const mqtt = { profile: 'mqtt' }

  for (const [char, codePoint, what] of [
    ['\u0001', 'U+0001', 'a control character'],
    ['\u0085', 'U+0085', 'a control character'],
    ['\uFFFF', 'U+FFFF', 'a non-character'],
    ['\uFDD0', 'U+FDD0', 'a non-character'],
  ]) {
    test(`mqttSecondTopic with ${codePoint} (profile mqtt): poison naming the field and the code point`, () => {
      const r = poisonOf(withProps({ mqttSecondTopic: `/room${char}1` }), 'userProperties.mqttSecondTopic:', [], [rawRule(1)], mqtt)
      assert.equal(r.reason, `userProperties.mqttSecondTopic: topic contains ${codePoint} (${what}), which MQTT forbids in a UTF-8 string`)
    })
  }

  test('the same topic character in profile alibaba is named too', () => {
    poisonOf(withProps({ mqttSecondTopic: '/room\u00851' }), 'userProperties.mqttSecondTopic:', ['U+0085 (a control character)'])
  })

  test('a forwarded user property value or name with a forbidden character, in either profile', () => {
    for (const defaults of [undefined, mqtt]) {
      poisonOf(withProps({ note: 'a\u0085b' }), 'userProperties.note: contains U+0085 (a control character)', [], forward, defaults)
      poisonOf(
        withProps({ 'no\uFFFEte': 'v' }),
        'userProperties: the name "no\uFFFEte" contains U+FFFE (a non-character)',
        [],
        forward,
        defaults,
      )
    }
  })

  test('mqtt5ContentType, mqttRealTopic and mqtt5UserProperty entries are checked the same way', () => {
    poisonOf(withProps({ mqtt5ContentType: 'text/\u0001plain' }), 'userProperties.mqtt5ContentType: contains U+0001 (a control character)')
    poisonOf(withProps({ mqttRealTopic: 'real/\u009F' }), 'userProperties.mqttRealTopic: contains U+009F (a control character)')
    const list = (key: string, value: string) =>
      withProps({
        mqtt5UserProperty: JSON.stringify([
          { key: 'ok', value: 'ok' },
          { key, value },
        ]),
      })
    poisonOf(list('k\u0007', 'v'), 'userProperties.mqtt5UserProperty[1].key: contains U+0007 (a control character)')
    poisonOf(list('k', '\u{10FFFF}'), 'userProperties.mqtt5UserProperty[1].value: contains U+10FFFF (a non-character)')
  })

  test('a non-forwarding rule ignores what it does not send', () => {
    assert.equal(publishOf(withProps({ note: 'a\u0085b' })).properties, undefined)
  })
})

describe('mapping: prototype-safe user properties', () => {
  const forward = [rawRule(1, { target: { forwardUserProperties: true } })]
  const names = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']

  test('names that exist on Object.prototype are forwarded as ordinary names, exactly', () => {
    const props = JSON.parse(`{${names.map((n, i) => `"${n}":"v${i}"`).join(',')}}`) as Record<string, string>
    const p = publishOf(withProps(props), forward)
    const user = p.properties!.userProperties!
    assert.equal(Object.getPrototypeOf(user), null)
    assert.deepEqual(
      Object.entries(user),
      names.map((n, i) => [n, `v${i}`]),
    )
  })

  test('through mqtt5UserProperty too, and repeated names still make arrays', () => {
    const list = [
      { key: 'toString', value: 'a' },
      { key: '__proto__', value: 'b' },
      { key: 'toString', value: 'c' },
    ]
    const p = publishOf(withProps({ mqtt5UserProperty: JSON.stringify(list) }))
    assert.deepEqual(Object.entries(p.properties!.userProperties!), [
      ['toString', ['a', 'c']],
      ['__proto__', 'b'],
    ])
  })
})

describe('mapping: a base64 body of millions of characters', () => {
  const base64 = [rawRule(1, { target: { bodyEncoding: 'base64' } })]

  test('4.5 million characters over the limit: poison for its size, decided before any scan or decode', () => {
    const body = `${'QUJD'.repeat(1_125_000)}QQ==`
    poisonOf(message({ body }), 'body: payload is 3375001 bytes', ['profile alibaba allows at most 65536'], base64)
  })

  test('a 6-million-character body that is not base64 is poison, not an exception (profile mqtt)', () => {
    const body = `${'A'.repeat(6_000_000)}!!!!`
    poisonOf(message({ body }), 'body:', ['not valid base64'], base64, { profile: 'mqtt' })
  })

  test('6 million characters of valid base64 decode exactly (profile mqtt)', () => {
    const bytes = Buffer.alloc(4_500_000, 0xa5)
    assert.ok(publishOf(message({ body: bytes.toString('base64') }), base64, { profile: 'mqtt' }).payload.equals(bytes))
  })
})

describe('mapping: retain and the publish record', () => {
  test('retain comes from the rule', () => {
    assert.equal(publishOf(message(), [rawRule(1, { target: { retain: true } })]).retain, true)
    assert.equal(publishOf(message()).retain, false)
  })

  test('ruleId, messageId and index are carried over', () => {
    const p = publishOf(message({ index: 7, messageId: 'MSG-7' }))
    assert.deepEqual({ ruleId: p.ruleId, messageId: p.messageId, index: p.index }, { ruleId: 'rule-1', messageId: 'MSG-7', index: 7 })
  })

  test('a message without a message ID has none on the publish', () => {
    const p = publishOf(message({ messageId: undefined }))
    assert.equal('messageId' in p && p.messageId !== undefined, false)
  })
})

describe('mapping: rule selection', () => {
  test("a rule without an instance takes what the message's own instance's rules leave, by tag", () => {
    const rules = [
      rawRule(1, { source: { tags: 'TagA' } }),
      rawRule(2, {
        source: { type: 'apache', instanceId: undefined, endpoint: '10.0.0.8:9876', topic: 'topic-1', groupId: 'self-2', tags: 'TagB' },
      }),
    ]
    assert.equal(publishOf(message({ tags: 'TagA' }), rules).ruleId, 'rule-1')
    assert.equal(publishOf(message({ tags: 'TagB' }), rules).ruleId, 'rule-2')
    assert.equal(publishOf(message({ tags: 'TagB', instanceId: 'another-instance' }), rules).ruleId, 'rule-2')
    poisonOf(message({ tags: 'TagC' }), 'tag "TagC" is not accepted by rule', ['"rule-1" (tags "TagA")', '"rule-2" (tags "TagB")'], rules)
  })

  test('a reason lists at most five candidate rules, and how many more', () => {
    const rules = Array.from({ length: 8 }, (_, i) =>
      rawRule(i + 1, { source: { topic: 'shared-topic', tags: `T${i}`, instanceId: `MQ_INST_${i}` } }),
    )
    const { reason } = poisonOf(
      message({ topic: 'shared-topic', instanceId: undefined, tags: 'none' }),
      'tag "none" is not accepted by rule',
      [],
      rules,
    )
    assert.match(reason, /"rule-5" \(tags "T4"\) and 3 more$/)
  })

  test("tag filter '*' accepts any tag and no tag", () => {
    assert.equal(publishOf(message({ tags: 'Whatever' })).ruleId, 'rule-1')
    assert.equal(publishOf(message({ tags: undefined })).ruleId, 'rule-1')
  })

  test("tag filter 'TagA||TagB' accepts TagA and TagB", () => {
    const rules = [rawRule(1, { source: { tags: 'TagA||TagB' } })]
    assert.equal(publishOf(message({ tags: 'TagA' }), rules).ruleId, 'rule-1')
    assert.equal(publishOf(message({ tags: 'TagB' }), rules).ruleId, 'rule-1')
  })

  test("tag filter 'TagA||TagB' rejects TagC, naming the rule and its filter", () => {
    const rules = [rawRule(1, { source: { tags: 'TagA||TagB' } })]
    poisonOf(message({ tags: 'TagC' }), 'tag "TagC"', ['not accepted', 'rule "rule-1"', '"TagA||TagB"'], rules)
  })

  test("tag filter 'TagA||TagB' rejects a message without tags", () => {
    poisonOf(message({ tags: undefined }), 'tag (none)', ['rule "rule-1"'], [rawRule(1, { source: { tags: 'TagA||TagB' } })])
  })

  test('disjoint tag filters on one topic pick the right rule', () => {
    const rules = [rawRule(1, { source: { tags: 'TagA' } }), rawRule(2, { source: { topic: 'topic-1', tags: 'TagB' } })]
    assert.equal(publishOf(message({ tags: 'TagA' }), rules).topic, 'parent1')
    assert.equal(publishOf(message({ tags: 'TagB' }), rules).topic, 'parent2')
  })

  test('no rule for the topic', () => {
    const r = poisonOf(message({ topic: 'unknown-topic' }), 'no enabled rule for RocketMQ topic "unknown-topic"')
    assert.equal(r.ruleId, undefined)
  })

  test('a disabled rule does not match', () => {
    poisonOf(message(), 'no enabled rule for RocketMQ topic "topic-1"', [], [rawRule(1, { enabled: false })])
  })

  test('wrong instance', () => {
    poisonOf(message({ instanceId: 'MQ_INST_other' }), 'no enabled rule for RocketMQ instance "MQ_INST_other" and topic "topic-1"')
  })

  test('the rule of the message instance is chosen among rules on one topic', () => {
    const rules = [rawRule(1), rawRule(2, { source: { topic: 'topic-1', instanceId: 'MQ_INST_other' } })]
    assert.equal(publishOf(message({ instanceId: 'MQ_INST_other' }), rules).ruleId, 'rule-2')
    assert.equal(publishOf(message({ instanceId: INSTANCE }), rules).ruleId, 'rule-1')
  })

  test('a message without instanceId matches by topic alone', () => {
    assert.equal(publishOf(message({ instanceId: undefined })).ruleId, 'rule-1')
  })

  test('a message without instanceId that matches rules of two instances is poison', () => {
    const rules = [rawRule(1), rawRule(2, { source: { topic: 'topic-1', instanceId: 'MQ_INST_other' } })]
    poisonOf(message({ instanceId: undefined }), 'the message names no instance', ['"topic-1"', 'rule-1', 'rule-2', 'MQ_INST_other'], rules)
  })
})
