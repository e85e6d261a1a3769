// Property-based tests (fast-check, 10,000 runs each) over event parsing and mapping.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { quickCloudEvent, quickData } from '../../../shared/events/fast-path.js'
import { parseEvent } from '../../../shared/events/parse.js'
import { cloudEventSchema, dataSchema } from '../../../shared/events/schema.js'
import { mapMessage } from '../../../shared/mapping/map-message.js'
import { RuleIndex } from '../../../shared/mapping/rule-index.js'
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

/** Fixed, so a failure replays: fast-check prints it with the counterexample. PROPERTY_SEED explores others. */
const SEED = Number(process.env['PROPERTY_SEED'] ?? 20_240_501)

// JSON *text*, parsed by JSON.parse, so values are exactly what the wire gives: 1e400 is Infinity, "-0"
// is -0, an escaped lone surrogate is a lone surrogate, a "__proto__" key is an own property.
const numberText = fc.oneof(
  fc.constantFrom(
    '1e400',
    '-1e400',
    '-0',
    '0',
    '-0.0',
    '1E+2',
    '1e-400',
    '5e-324',
    '1.7976931348623157e308',
    '9007199254740993',
    '-9007199254740993',
    '18446744073709551616',
    '123456789012345678901234567890',
  ),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? '-0' : String(d))),
)
const escapes = fc.constantFrom('\\ud800', '\\udfff', '\\ud83d\\ude00', '\\u0000', '\\u00e9', '\\n', '\\"', '\\\\', '\\/')
const stringText = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map((t) => JSON.stringify(t)), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((t) => JSON.stringify(t)), weight: 4 },
  {
    arbitrary: fc
      .array(
        fc.oneof(
          escapes,
          fc.string({ maxLength: 3 }).map((t) => JSON.stringify(t).slice(1, -1)),
        ),
        { maxLength: 6 },
      )
      .map((parts) => `"${parts.join('')}"`),
    weight: 2,
  },
  { arbitrary: fc.constantFrom('""', '"0"', '"true"', '"null"', '"1e400"'), weight: 1 },
  { arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => `"${'\u{1F600}é'.repeat(n / 3)}"`), weight: 1 },
)
const keyText = fc.oneof(
  fc
    .constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'valueOf',
      'hasOwnProperty',
      'isPrototypeOf',
      '',
      ' ',
      'UNIQ_KEY',
      'TAGS',
      'INSTANCE_ID',
      'mqttSecondTopic',
      'qoslevel',
      'topic',
      'body',
      'data',
      'id',
    )
    .map((k) => JSON.stringify(k)),
  stringText,
)
const scalarText = fc.oneof(numberText, stringText, fc.constantFrom('true', 'false', 'null'))
const objectText = (members: Array<[string, string]>) => `{${members.map(([k, v]) => `${k}:${v}`).join(',')}}`
const { value: valueText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, withCrossShrink: true }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(keyText, tie('value')), { maxLength: 4 }).map(objectText),
}))
/** Mostly the right type, now and then any JSON value. */
const mostly = (right: fc.Arbitrary<string>) => fc.oneof({ arbitrary: right, weight: 5 }, { arbitrary: valueText, weight: 1 })
const propertiesText = fc
  .array(
    fc.tuple(
      keyText,
      fc.oneof(
        { arbitrary: stringText, weight: 4 },
        { arbitrary: numberText, weight: 3 },
        { arbitrary: fc.constantFrom('true', 'false', 'null'), weight: 2 },
        { arbitrary: valueText, weight: 1 },
      ),
    ),
    { maxLength: 6 },
  )
  .map(objectText)
/** An object with these members, each present 4 times in 5, plus up to two odd extra members, in any order. */
const membersText = (members: Record<string, fc.Arbitrary<string>>) =>
  fc
    .tuple(
      ...Object.entries(members).map(([name, text]) =>
        fc.option(
          text.map((t): [string, string] => [JSON.stringify(name), t]),
          { nil: undefined, freq: 5 },
        ),
      ),
      fc.array(fc.tuple(keyText, valueText), { maxLength: 2 }),
    )
    .chain((parts) => {
      const all = [...(parts.slice(0, -1) as Array<[string, string] | undefined>), ...(parts.at(-1) as Array<[string, string]>)].filter(
        (m): m is [string, string] => m !== undefined,
      )
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length })
    })
    .map(objectText)
const dataObjectText = membersText({
  topic: mostly(stringText),
  body: mostly(stringText),
  systemProperties: mostly(propertiesText),
  userProperties: mostly(propertiesText),
})
const dataText = fc.oneof({ arbitrary: dataObjectText, weight: 8 }, { arbitrary: valueText, weight: 1 })
const cloudEventText = fc.oneof(
  {
    arbitrary: membersText({
      specversion: fc.constant('"1.0"'),
      id: mostly(stringText),
      subject: mostly(stringText),
      time: mostly(stringText),
      data: fc.oneof({ arbitrary: dataObjectText, weight: 6 }, { arbitrary: valueText, weight: 1 }),
    }),
    weight: 8,
  },
  { arbitrary: valueText, weight: 1 },
)

/** The schema's fields of a parsed value as they came (own members only), to tell a conversion from a refusal. */
function pick(v: unknown, names: string[]): Record<string, unknown> | unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
  return Object.fromEntries(names.filter((n) => Object.hasOwn(v, n)).map((n) => [n, (v as Record<string, unknown>)[n]]))
}
/** A properties object as it came, in the schema's shape for maps (no prototype), so only a real conversion differs. */
const asMap = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.assign(Object.create(null) as Record<string, unknown>, v) : v
function asIsData(d: unknown): unknown {
  const fields = pick(d, ['topic', 'systemProperties', 'userProperties', 'body'])
  if (typeof fields !== 'object' || fields === null) return fields
  const f = fields as Record<string, unknown>
  for (const name of ['systemProperties', 'userProperties']) if (name in f) f[name] = asMap(f[name])
  return f
}
function asIsCloudEvent(c: unknown): unknown {
  const fields = pick(c, ['id', 'subject', 'time', 'data'])
  if (typeof fields !== 'object' || fields === null || !('data' in fields)) return fields
  return { ...fields, data: asIsData((fields as { data: unknown }).data) }
}

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

  test('the hand-written fast path and zod agree over the JSON value space: same verdict, same output', () => {
    const seen = { fastAccepted: 0, zodConverted: 0, bothRefused: 0 }
    const check = (fast: unknown, zod: { success: boolean; data?: unknown; error?: unknown }, asIs: unknown) => {
      if (fast !== undefined) {
        assert.ok(zod.success, `the fast path accepts what zod refuses: ${String(zod.error)}`)
        assert.deepStrictEqual(fast, zod.data)
        seen.fastAccepted++
      } else if (zod.success) {
        // The fast path leaves conversions to zod by design (a number user property becomes a string):
        // it may decline only where zod's output is not the input as it came.
        assert.notDeepStrictEqual(zod.data, asIs, 'the fast path declines what zod accepts unchanged')
        seen.zodConverted++
      } else seen.bothRefused++
    }
    fc.assert(
      fc.property(dataText, cloudEventText, (dText, cText) => {
        const d: unknown = JSON.parse(dText)
        const c: unknown = JSON.parse(cText)
        check(quickData(d), dataSchema.safeParse(d), asIsData(d))
        check(quickCloudEvent(c), cloudEventSchema.safeParse(c), asIsCloudEvent(c))
      }),
      { numRuns: RUNS, seed: SEED, includeErrorInReport: true },
    )
    // Each branch of the property was exercised, not only the refusals.
    assert.ok(seen.fastAccepted > RUNS / 10, JSON.stringify(seen))
    assert.ok(seen.zodConverted > RUNS / 100, JSON.stringify(seen))
    assert.ok(seen.bothRefused > RUNS / 10, JSON.stringify(seen))
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
            assert.ok(r.value.kind === 'publish')
            const t = r.value.publish.topic
            assert.ok(t === 'devices' || t.startsWith('devices/'), t)
            assert.ok(!/[+#\u0000]/.test(t), t)
            assert.ok(!t.endsWith('/') && !t.includes('//'), t)
            assert.ok([0, 1, 2].includes(r.value.publish.qos))
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
        assert.ok(r.ok && r.value.kind === 'publish')
        assert.ok(r.value.publish.payload.equals(Buffer.from(body, 'utf8')))
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
        assert.ok(r.ok && r.value.kind === 'publish')
        assert.ok(r.value.publish.payload.equals(Buffer.from(bytes)))
      }),
      { numRuns: RUNS },
    )
  })
})
