// Property-based tests (fast-check, 10,000 runs each) over event parsing and mapping.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { quickCloudEvent, quickData } from '../../../shared/events/fast-path.js'
import { parseEvent } from '../../../shared/events/parse.js'
import { cloudEventSchema, dataSchema } from '../../../shared/events/schema.js'
import { mapMessage, RuleIndex } from '../../../shared/mapping/map-message.js'
import { validateRules } from '../../../shared/rules/validate.js'

const RUNS = 10_000
const INSTANCE = 'MQ_INST_prop'

function index(profile: 'alibaba' | 'mqtt', bodyEncoding: 'utf8' | 'base64' = 'utf8', parentTopic = 'devices'): RuleIndex {
  const r = validateRules({
    defaults: { profile },
    rules: [
      {
        id: 'prop',
        source: { regionId: 'cn-hangzhou', instanceId: INSTANCE, topic: 'T', groupId: 'GID_prop' },
        target: { parentTopic, bodyEncoding, forwardUserProperties: true },
      },
    ],
  })
  if (!r.ok) throw new Error(JSON.stringify(r.errors))
  return new RuleIndex(r.ruleSet)
}

const propertyKeys = fc.constantFrom(
  'mqttSecondTopic',
  'qoslevel',
  'cleansessionflag',
  'mqttRealTopic',
  'mqtt5UserProperty',
  'mqtt5MsgExpireInterval',
  'mqtt5ContentType',
  'clientId',
  'other',
)
const anyText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '0',
    '1',
    '2',
    '3',
    '-1',
    '1.5',
    '/a/b',
    '/p2p/GID_x@@@d1',
    '//',
    '/+/#',
    '[{"key":"k","value":"v"}]',
    '[{"key":1}]',
    '65535',
    '65536',
    'true',
    '\u0000',
    '\ud800',
  ),
)
const userProperties = fc.dictionary(propertyKeys, anyText, { maxKeys: 5 })

/** CloudEvents with arbitrary properties and bodies, some of them broken. */
const entry = fc.record({
  specversion: fc.constant('1.0'),
  subject: fc.constant(`acs:mq:cn-hangzhou:1:${INSTANCE}%T`),
  data: fc.record({
    topic: fc.oneof(fc.constant('T'), fc.string({ maxLength: 5 })),
    systemProperties: fc.record({ UNIQ_KEY: fc.string({ maxLength: 8 }), TAGS: fc.string({ maxLength: 4 }) }),
    userProperties,
    body: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })),
  }),
})

describe('properties (10,000 runs each)', () => {
  test('parsing never throws, whatever arrives: any value, any bytes, any JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.json().map((j) => Buffer.from(j)),
          fc.array(fc.anything(), { maxLength: 5 }),
        ),
        (event) => {
          const parsed = parseEvent(event)
          // Every entry is accounted for: a message or a poison entry, never neither.
          assert.equal(parsed.messages.length + parsed.poison.length, parsed.received)
        },
      ),
      { numRuns: RUNS },
    )
  })

  test('the hand-written fast path accepts only what the zod schema accepts, with the same values', () => {
    const field = fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.dictionary(
        fc.string({ maxLength: 3 }),
        fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 })),
        { maxKeys: 3 },
      ),
    )
    const data = fc.oneof(
      fc.record({ topic: field, body: field, systemProperties: field, userProperties: field }, { requiredKeys: [] }),
      field,
    )
    const cloud = fc.record(
      { specversion: fc.constant('1.0'), id: field, subject: field, time: field, data },
      { requiredKeys: ['specversion'] },
    )
    fc.assert(
      fc.property(data, cloud, (d, c) => {
        // Compared as JSON, the form events arrive in (JSON.parse never makes null-prototype objects).
        const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown
        const q = quickData(d)
        if (q !== undefined) assert.deepEqual(json(q), json(dataSchema.parse(d)))
        const qc = quickCloudEvent(c)
        if (qc !== undefined) assert.deepEqual(json(qc), json(cloudEventSchema.parse(c)))
        // And whatever zod rejects, the fast path rejected too (else it would have parsed above).
        if (!dataSchema.safeParse(d).success) assert.equal(q, undefined)
        if (!cloudEventSchema.safeParse(c).success) assert.equal(qc, undefined)
      }),
      { numRuns: RUNS },
    )
  })

  for (const profile of ['alibaba', 'mqtt'] as const) {
    test(`profile ${profile}: mapping never throws; every published topic starts with the parent topic and holds no wildcard`, () => {
      const idx = index(profile)
      fc.assert(
        fc.property(fc.array(entry, { minLength: 1, maxLength: 4 }), (batch) => {
          const parsed = parseEvent(Buffer.from(JSON.stringify(batch)))
          for (const m of parsed.messages) {
            const r = mapMessage(m, idx)
            if (!r.ok) {
              assert.ok(r.reason.length > 0)
              continue
            }
            const t = r.publish.topic
            assert.ok(t === 'devices' || t.startsWith('devices/'), t)
            assert.ok(!/[+#\u0000]/.test(t), t)
            assert.ok(!t.endsWith('/') && !t.includes('//'), t)
            assert.ok([0, 1, 2].includes(r.publish.qos))
          }
        }),
        { numRuns: RUNS },
      )
    })
  }

  test("UTF-8 bodies: the payload is exactly the body's UTF-8 bytes, through JSON bytes and parsing", () => {
    const idx = index('mqtt')
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (body) => {
        const event = Buffer.from(
          JSON.stringify([{ specversion: '1.0', data: { topic: 'T', systemProperties: { INSTANCE_ID: INSTANCE }, body } }]),
        )
        const [m] = parseEvent(event).messages
        const r = mapMessage(m!, idx)
        assert.ok(r.ok)
        assert.ok(r.publish.payload.equals(Buffer.from(body, 'utf8')))
      }),
      { numRuns: RUNS },
    )
  })

  test('base64 bodies: the payload is exactly the original bytes', () => {
    const idx = index('mqtt', 'base64')
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const event = [{ topic: 'T', systemProperties: { INSTANCE_ID: INSTANCE }, body: Buffer.from(bytes).toString('base64') }]
        const [m] = parseEvent(event).messages
        const r = mapMessage(m!, idx)
        assert.ok(r.ok)
        assert.ok(r.publish.payload.equals(Buffer.from(bytes)))
      }),
      { numRuns: RUNS },
    )
  })
})
