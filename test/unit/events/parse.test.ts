import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import type { ParsedEvent } from '../../../shared/events/message.js'
import { parseEvent } from '../../../shared/events/parse.js'

const fixtureText = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')
const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const UNIQ = 'AC14C305069E1B28CA003E5A7B5E0001'
/** User properties as the parser makes them: a map with no prototype. */
const props = (entries: Record<string, string>) => Object.assign(Object.create(null) as Record<string, string>, entries)

/** The same event as FC passes it (Buffer), as text, and already parsed. */
function forms(name: string): Array<[string, unknown]> {
  const text = fixtureText(name)
  return [
    ['Buffer', Buffer.from(text, 'utf8')],
    ['string', text],
    ['parsed value', JSON.parse(text) as unknown],
  ]
}

function assertSampleMessage(parsed: ParsedEvent, withTime: boolean) {
  assert.equal(parsed.received, 1)
  assert.deepEqual(parsed.poison, [])
  assert.equal(parsed.messages.length, 1)
  const m = parsed.messages[0]!
  assert.equal(m.index, 0)
  assert.equal(m.messageId, UNIQ)
  assert.equal(m.instanceId, INSTANCE)
  assert.equal(m.topic, 'TopicName')
  assert.equal(m.tags, 'TagA')
  assert.deepEqual(m.userProperties, props({ mqttSecondTopic: '/room1/lamp', qoslevel: '1' }))
  assert.equal(m.body, 'TEST')
  if (withTime) assert.equal(m.time, '2021-04-08T06:01:20.766Z')
  else assert.equal(m.time, undefined)
}

describe('events: the three sample shapes', () => {
  for (const [form, input] of forms('rocketmq-stream-batch.json')) {
    test(`event-streaming batch from a ${form}`, () => {
      const parsed = parseEvent(input)
      assert.equal(parsed.shape, 'event-streaming')
      assertSampleMessage(parsed, true)
      const expectedRaw = (JSON.parse(fixtureText('rocketmq-stream-batch.json')) as unknown[])[0]
      assert.deepEqual(parsed.messages[0]!.raw, expectedRaw)
    })
  }

  for (const [form, input] of forms('rocketmq-event-driven.json')) {
    test(`event-driven CloudEvent from a ${form}`, () => {
      const parsed = parseEvent(input)
      assert.equal(parsed.shape, 'event-driven')
      assertSampleMessage(parsed, true)
      assert.deepEqual(parsed.messages[0]!.raw, JSON.parse(fixtureText('rocketmq-event-driven.json')))
    })
  }

  for (const [form, input] of forms('rocketmq-rawdata-batch.json')) {
    test(`RawData batch from a ${form}`, () => {
      const parsed = parseEvent(input)
      assert.equal(parsed.shape, 'raw-data')
      assertSampleMessage(parsed, false)
      const expectedRaw = (JSON.parse(fixtureText('rocketmq-rawdata-batch.json')) as unknown[])[0]
      assert.deepEqual(parsed.messages[0]!.raw, expectedRaw)
    })
  }

  test('raw is the very entry received (kept verbatim, including fields the bridge ignores)', () => {
    const value = JSON.parse(fixtureText('rocketmq-stream-batch.json')) as Array<Record<string, unknown>>
    const parsed = parseEvent(value)
    assert.equal(parsed.messages[0]!.raw, value[0])
    assert.equal((parsed.messages[0]!.raw as Record<string, unknown>)['aliyunpublishaddr'], '42.120.0.1')
  })

  test('a single RawData object (not in an array) is one raw-data message', () => {
    const data = (JSON.parse(fixtureText('rocketmq-rawdata-batch.json')) as unknown[])[0]
    const parsed = parseEvent(data)
    assert.equal(parsed.shape, 'raw-data')
    assertSampleMessage(parsed, false)
  })

  test('a Uint8Array that is a view into a larger buffer is read at its offset', () => {
    const text = fixtureText('rocketmq-event-driven.json')
    const big = Buffer.from(`xxxx${text}yyyy`, 'utf8')
    const view = new Uint8Array(big.buffer, big.byteOffset + 4, Buffer.byteLength(text))
    assertSampleMessage(parseEvent(view), true)
  })

  test('a multi-message batch keeps batch order and indices', () => {
    const one = JSON.parse(fixtureText('rocketmq-event-driven.json')) as { data: Record<string, unknown> }
    const batch = [0, 1, 2].map((i) => ({
      ...one,
      id: `id-${i}`,
      data: { ...one.data, systemProperties: { UNIQ_KEY: `U${i}` }, body: `body-${i}` },
    }))
    const parsed = parseEvent(Buffer.from(JSON.stringify(batch)))
    assert.equal(parsed.received, 3)
    assert.deepEqual(
      parsed.messages.map((m) => [m.index, m.messageId, m.body]),
      [
        [0, 'U0', 'body-0'],
        [1, 'U1', 'body-1'],
        [2, 'U2', 'body-2'],
      ],
    )
  })

  test('an empty batch has no messages and no poison', () => {
    const parsed = parseEvent(Buffer.from('[]'))
    assert.equal(parsed.received, 0)
    assert.deepEqual(parsed.messages, [])
    assert.deepEqual(parsed.poison, [])
  })
})

describe('events: fields taken from the CloudEvent', () => {
  const base = () =>
    JSON.parse(fixtureText('rocketmq-event-driven.json')) as {
      id: string
      subject?: string
      data: { systemProperties: Record<string, unknown>; userProperties: Record<string, unknown> }
    }

  test('instance ID taken from the subject when systemProperties lacks INSTANCE_ID', () => {
    const ev = base()
    delete ev.data.systemProperties['INSTANCE_ID']
    ev.subject = 'acs:mq:cn-hangzhou:1234567890123456:MQ_INST_from_subject%TopicName'
    const m = parseEvent(ev).messages[0]!
    assert.equal(m.instanceId, 'MQ_INST_from_subject')
  })

  test('INSTANCE_ID in systemProperties wins over the subject', () => {
    const ev = base()
    ev.subject = 'acs:mq:cn-hangzhou:1:MQ_INST_other%TopicName'
    assert.equal(parseEvent(ev).messages[0]!.instanceId, INSTANCE)
  })

  test('no INSTANCE_ID and no subject: instanceId is absent', () => {
    const ev = base()
    delete ev.data.systemProperties['INSTANCE_ID']
    delete ev.subject
    assert.equal(parseEvent(ev).messages[0]!.instanceId, undefined)
  })

  test('message ID falls back to the CloudEvent id when UNIQ_KEY is missing', () => {
    const ev = base()
    delete ev.data.systemProperties['UNIQ_KEY']
    assert.equal(parseEvent(ev).messages[0]!.messageId, '94ebc15f-3b2e-4a1f-9c1d-0f3b9a3e7c11')
  })

  test('numeric and boolean user properties become strings; no TAGS means no tags', () => {
    const ev = base()
    ev.data.userProperties = { qoslevel: 2, retainflag: true }
    delete ev.data.systemProperties['TAGS']
    const m = parseEvent(ev).messages[0]!
    assert.deepEqual(m.userProperties, props({ qoslevel: '2', retainflag: 'true' }))
    assert.equal(m.tags, undefined)
  })
})

describe('events: prototype-safe property maps', () => {
  const NAMES = ['__proto__', 'constructor', 'toString', 'valueOf']
  const entry = (props: string) =>
    Buffer.from(
      `[{"specversion":"1.0","data":{"topic":"T","systemProperties":{"UNIQ_KEY":"U1","__proto__":"s"},"userProperties":${props},"body":"b"}}]`,
    )

  test('names on Object.prototype are ordinary keys, in the fast path and in the schema alike', () => {
    // All strings: the fast path reads it. A number among them: the schema converts it.
    const fast = `{${NAMES.map((n, i) => `"${n}":"v${i}"`).join(',')}}`
    const slow = `{${NAMES.map((n, i) => `"${n}":${i === 3 ? 3 : `"v${i}"`}`).join(',')}}`
    for (const [path, text] of [
      ['fast path', fast],
      ['schema', slow],
    ] as const) {
      const [m] = parseEvent(entry(text)).messages
      assert.ok(m, path)
      assert.equal(Object.getPrototypeOf(m.userProperties), null, path)
      assert.deepEqual(
        Object.entries(m.userProperties),
        NAMES.map((n, i) => [n, i === 3 && path === 'schema' ? '3' : `v${i}`]),
        path,
      )
      assert.equal(m.messageId, 'U1')
    }
  })

  test('a message without user properties gets an empty map with no prototype', () => {
    const [m] = parseEvent([{ topic: 'T', body: 'b' }]).messages
    assert.equal(Object.getPrototypeOf(m!.userProperties), null)
    assert.equal(m!.userProperties['toString'], undefined)
  })

  test('1e400 (Infinity once parsed) is refused by both paths, wherever it is', () => {
    const user = parseEvent(entry('{"a":1e400}')).poison[0]
    assert.equal(user?.reason, '[0].data.userProperties.a: must be a string')
    const system = parseEvent(Buffer.from('[{"topic":"T","body":"b","systemProperties":{"CONSUME_START_TIME":1e400}}]')).poison[0]
    assert.equal(system?.reason, '[0].systemProperties.CONSUME_START_TIME: Invalid input')
  })
})

describe('events: poison entries', () => {
  const good = (i: number) => ({
    specversion: '1.0',
    id: `ce-${i}`,
    data: { topic: 'TopicName', systemProperties: { UNIQ_KEY: `U${i}` }, body: `body-${i}` },
  })

  function batchWith(bad: unknown): ParsedEvent {
    const parsed = parseEvent(Buffer.from(JSON.stringify([good(0), bad, good(2)])))
    assert.equal(parsed.shape, 'event-streaming')
    assert.equal(parsed.received, 3)
    assert.deepEqual(
      parsed.messages.map((m) => [m.index, m.messageId, m.body]),
      [
        [0, 'U0', 'body-0'],
        [2, 'U2', 'body-2'],
      ],
      'the valid entries still parse, in order',
    )
    assert.equal(parsed.poison.length, 1)
    assert.equal(parsed.poison[0]!.index, 1)
    assert.deepEqual(parsed.poison[0]!.event, bad)
    return parsed
  }

  test('an entry with no data', () => {
    const p = batchWith({ specversion: '1.0', id: 'ce-1' }).poison[0]!
    assert.match(p.reason, /^\[1\]\.data: /)
    assert.match(p.reason, /must be an object with topic and body/)
    assert.equal(p.messageId, 'ce-1')
  })

  test('missing topic', () => {
    const p = batchWith({ specversion: '1.0', data: { body: 'x', systemProperties: { UNIQ_KEY: 'U1' } } }).poison[0]!
    assert.equal(p.reason, '[1].data.topic: must be a string')
    assert.equal(p.messageId, 'U1', 'the message ID of a malformed entry is kept for tracing')
  })

  test('empty topic', () => {
    const p = batchWith({ specversion: '1.0', data: { topic: '', body: 'x' } }).poison[0]!
    assert.equal(p.reason, '[1].data.topic: must not be empty')
  })

  test('null body', () => {
    const p = batchWith({ specversion: '1.0', data: { topic: 'TopicName', body: null } }).poison[0]!
    assert.equal(p.reason, '[1].data.body: must be a string')
  })

  test('numeric topic', () => {
    const p = batchWith({ specversion: '1.0', data: { topic: 42, body: 'x' } }).poison[0]!
    assert.equal(p.reason, '[1].data.topic: must be a string')
  })

  test('user property that is an object', () => {
    const p = batchWith({ specversion: '1.0', data: { topic: 'TopicName', body: 'x', userProperties: { qoslevel: { v: 1 } } } }).poison[0]!
    assert.equal(p.reason, '[1].data.userProperties.qoslevel: must be a string')
  })

  test('systemProperties that is not an object', () => {
    const p = batchWith({ specversion: '1.0', data: { topic: 'TopicName', body: 'x', systemProperties: 'TAGS=TagA' } }).poison[0]!
    assert.equal(p.reason, '[1].data.systemProperties: must be an object')
  })

  test('an entry that is not an object at all', () => {
    const p = batchWith(null).poison[0]!
    assert.match(p.reason, /^\[1\]: must be an object/)
  })

  test('the shape comes from the first object entry, not from a leading null', () => {
    const parsed = parseEvent([null, { specversion: '1.0', data: { topic: 'T', body: 'x' } }])
    assert.equal(parsed.shape, 'event-streaming')
    assert.equal(parsed.messages.length, 1)
    assert.equal(parsed.poison.length, 1)
  })

  test('RawData batch: poison reasons name the field without a data. prefix', () => {
    const parsed = parseEvent([{ topic: 'T', body: 'a' }, { topic: 'T', body: 7 }, { body: 'c' }, { topic: 'T', body: 'd' }])
    assert.equal(parsed.shape, 'raw-data')
    assert.deepEqual(
      parsed.messages.map((m) => [m.index, m.body]),
      [
        [0, 'a'],
        [3, 'd'],
      ],
    )
    assert.deepEqual(
      parsed.poison.map((p) => [p.index, p.reason]),
      [
        [1, '[1].body: must be a string'],
        [2, '[2].topic: must be a string'],
      ],
    )
  })

  test('event-driven CloudEvent with a bad body: one poison entry at (event)', () => {
    const ev = { specversion: '1.0', id: 'ce', data: { topic: 'T', body: ['x'] } }
    const parsed = parseEvent(Buffer.from(JSON.stringify(ev)))
    assert.equal(parsed.shape, 'event-driven')
    assert.equal(parsed.received, 1)
    assert.deepEqual(parsed.messages, [])
    assert.equal(parsed.poison.length, 1)
    assert.equal(parsed.poison[0]!.reason, '(event).data.body: must be a string')
    assert.deepEqual(parsed.poison[0]!.event, ev)
  })

  test('a body that is not JSON at all is one unparsable poison entry with the text as raw', () => {
    const text = 'this is {not json'
    for (const input of [Buffer.from(text), text]) {
      const parsed = parseEvent(input)
      assert.equal(parsed.shape, 'unparsable')
      assert.equal(parsed.received, 1)
      assert.deepEqual(parsed.messages, [])
      assert.equal(parsed.poison.length, 1)
      assert.equal(parsed.poison[0]!.event, text)
      assert.match(parsed.poison[0]!.reason, /^event is not JSON/)
    }
  })

  test('a truncated JSON batch is unparsable too', () => {
    const text = fixtureText('rocketmq-stream-batch.json').slice(0, 200)
    const parsed = parseEvent(Buffer.from(text))
    assert.equal(parsed.shape, 'unparsable')
    assert.equal(parsed.poison[0]!.event, text)
  })

  for (const [label, input, got] of [
    ['a JSON number (Buffer)', Buffer.from('42'), 'number'],
    ['a JSON null (Buffer)', Buffer.from('null'), 'null'],
    ['a JSON string (text)', '"hello"', 'string'],
    ['an already-parsed number', 7, 'number'],
    ['an already-parsed null', null, 'null'],
  ] as const) {
    test(`${label} at the top level is one poison entry`, () => {
      const parsed = parseEvent(input)
      assert.equal(parsed.shape, 'unparsable')
      assert.equal(parsed.received, 1)
      assert.deepEqual(parsed.messages, [])
      assert.equal(parsed.poison.length, 1)
      assert.equal(parsed.poison[0]!.index, 0)
      assert.equal(parsed.poison[0]!.reason, `event must be a JSON array or object, got ${got}`)
    })
  }
})

describe('events from RocketMQ 5.x and self-managed sources (inferred shapes, test/fixtures/README.md)', () => {
  test('5.x: the instance from the CloudEvent subject, whatever its shape; the message group from __SHARDINGKEY', () => {
    for (const [form, event] of forms('rocketmq5-stream-batch.json')) {
      const m = parseEvent(event).messages[0]!
      assert.equal(m.instanceId, 'rmq-cn-jte3w5i0a01', form)
      assert.equal(m.messageId, '0A1B2C3D00002A9F0000000000000001', form)
      assert.equal(m.messageGroup, 'customer-42', form)
      assert.equal(m.topic, 'orders', form)
    }
  })

  test('self-managed: no instance at all', () => {
    const m = parseEvent(fixtureText('apache-rocketmq-stream-batch.json')).messages[0]!
    assert.equal(m.instanceId, undefined)
    assert.equal(m.topic, 'warehouse-orders')
  })

  test('a message group among the user properties counts too; the system property wins', () => {
    const data = (sys: Record<string, string>, user: Record<string, string>) => ({
      topic: 't',
      body: 'b',
      systemProperties: sys,
      userProperties: user,
    })
    const [a, b, c] = parseEvent([
      data({}, { __SHARDINGKEY: 'u' }),
      data({ __SHARDINGKEY: 's' }, { __SHARDINGKEY: 'u' }),
      data({}, {}),
    ]).messages
    assert.equal(a!.messageGroup, 'u')
    assert.equal(b!.messageGroup, 's')
    assert.equal(c!.messageGroup, undefined)
  })
})

describe('the message ID', () => {
  const data = (extra: Record<string, unknown>) => ({ specversion: '1.0', id: 'ce-id', data: { topic: 't', body: 'b', ...extra } })
  test('UNIQ_KEY, else data.msgId, else the CloudEvent id; a msgId that is not text is ignored', () => {
    const parsed = parseEvent([
      data({ systemProperties: { UNIQ_KEY: 'U1' }, msgId: 'M1' }),
      data({ msgId: 'M2' }),
      data({}),
      data({ msgId: 42 }),
    ])
    assert.deepEqual(parsed.poison, [])
    assert.deepEqual(
      parsed.messages.map((m) => m.messageId),
      ['U1', 'M2', 'ce-id', 'ce-id'],
    )
  })

  test('the self-managed fixture takes its ID from data.msgId', () => {
    assert.equal(parseEvent(fixtureText('apache-rocketmq-stream-batch.json')).messages[0]!.messageId, '7F0000010B6418B4AAC2A3B8D5F00000')
  })
})

describe('the message keys', () => {
  test('KEYS from the system properties, text or a number, for routes and filters', () => {
    const data = (KEYS: unknown) => ({ topic: 't', body: 'b', systemProperties: KEYS === undefined ? {} : { KEYS } })
    const [a, b, c, d] = parseEvent([data('order-1 order-2'), data(7), data(''), data(undefined)]).messages
    assert.deepEqual([a!.keys, b!.keys, c!.keys, d!.keys], ['order-1 order-2', '7', undefined, undefined])
  })
})

describe('bytes that are not valid UTF-8', () => {
  const withBadByte = (json: string, marker: string) => {
    const text = Buffer.from(json, 'utf8')
    const at = text.indexOf(marker)
    text[at] = 0xff
    return text
  }
  test('a bad byte anywhere in an entry quarantines that message, flagged lossy; its neighbours are intact', () => {
    const entries = [
      { topic: 't', body: 'fine', systemProperties: { UNIQ_KEY: 'A' } },
      { topic: 't', body: 'fine too', systemProperties: { UNIQ_KEY: 'B', KEYS: 'k#y' } },
      { topic: 't', body: 'fine', systemProperties: { UNIQ_KEY: 'C' } },
    ]
    const parsed = parseEvent(withBadByte(JSON.stringify(entries), '#'))
    assert.deepEqual(
      parsed.messages.map((m) => m.messageId),
      ['A', 'C'],
    )
    assert.equal(parsed.poison.length, 1)
    assert.equal(parsed.poison[0]!.index, 1)
    assert.equal(parsed.poison[0]!.lossy, true)
    assert.match(parsed.poison[0]!.reason, /not valid UTF-8/)
  })

  test('an event that is not JSON and not UTF-8 either is one lossy dead letter', () => {
    const parsed = parseEvent(withBadByte('not json #', '#'))
    assert.equal(parsed.poison.length, 1)
    assert.equal(parsed.poison[0]!.lossy, true)
  })
})
