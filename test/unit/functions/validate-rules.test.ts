// The validate-rules function, driven through its handler with FC 3.0 HTTP trigger events.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { handler } from '../../../functions/validate-rules/index.js'
import { MAX_BODY_BYTES } from '../../../functions/validate-rules/respond.js'
import type { FcContext } from '../../../shared/fc/context.js'
import type { HttpResponse } from '../../../shared/fc/http-event.js'
import { triggersForRules } from '../../../shared/fc/triggers.js'
import { validateRulesText } from '../../../shared/rules/validate.js'
import { INSTANCE, rawRule } from '../../helpers/factories.js'

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')
const RULES_YAML = readFileSync(new URL('../../../rules.yaml', import.meta.url), 'utf8')
const SAMPLE = JSON.parse(fixture('fc-http-trigger-event.json')) as Record<string, unknown> & {
  requestContext: { http: Record<string, unknown> }
}

type Form = 'Buffer' | 'string' | 'object'

/** The fixture HTTP trigger event with another method, body or query; in the form FC (Buffer) or a test passes it. */
function httpEvent(
  over: { method?: string; body?: string; isBase64Encoded?: boolean; query?: Record<string, string> } = {},
  form: Form = 'Buffer',
): unknown {
  const e = {
    ...SAMPLE,
    body: over.body ?? SAMPLE['body'],
    isBase64Encoded: over.isBase64Encoded ?? false,
    queryParameters: over.query ?? {},
    requestContext: { ...SAMPLE.requestContext, http: { ...SAMPLE.requestContext.http, method: over.method ?? 'POST' } },
  }
  const text = JSON.stringify(e)
  return form === 'Buffer' ? Buffer.from(text, 'utf8') : form === 'string' ? text : e
}

interface Called {
  res: HttpResponse
  json: Record<string, unknown> & { errors?: Array<{ path: string; message: string }> }
  logs: string[]
}

async function call(event: unknown): Promise<Called> {
  const logs: string[] = []
  const logger = {
    debug: (m: string) => logs.push(m),
    info: (m: string) => logs.push(m),
    warn: (m: string) => logs.push(m),
    error: (m: string) => logs.push(m),
  }
  const context: FcContext = { requestId: 'req-validate-1', logger }
  const res = await handler(event, context)
  return { res, json: JSON.parse(res.body) as Called['json'], logs }
}

const post = (body: string, extra: Parameters<typeof httpEvent>[0] = {}, form?: Form) => call(httpEvent({ body, ...extra }, form))

describe('validate-rules: 200 for valid rules', () => {
  for (const form of ['Buffer', 'string', 'object'] as const) {
    test(`rules.yaml as YAML (event as ${form}): normalised rules and the triggers they imply`, async () => {
      const { res, json, logs } = await post(RULES_YAML, {}, form)
      assert.equal(res.statusCode, 200)
      assert.match(res.headers['content-type']!, /^application\/json/)
      assert.equal(json['valid'], true)
      const expected = validateRulesText(RULES_YAML)
      assert.ok(expected.ok)
      assert.deepEqual(json['rules'], JSON.parse(JSON.stringify(expected.ruleSet.rules)))
      assert.deepEqual(json['defaults'], { profile: 'alibaba', qos: 1 })
      assert.deepEqual(json['triggers'], JSON.parse(JSON.stringify(triggersForRules(expected.ruleSet))))
      // Normalised: defaults filled in where rules.yaml leaves them out.
      const lamps = (json['rules'] as Array<{ id: string; target: Record<string, unknown> }>).find((r) => r.id === 'home-lamps')!
      assert.deepEqual(lamps.target, { parentTopic: 'home', qos: 1, retain: false, bodyEncoding: 'utf8', forwardUserProperties: true })
      assert.deepEqual(
        (json['triggers'] as Array<{ triggerName: string }>).map((t) => t.triggerName),
        ['rocketmq-device-commands', 'rocketmq-home-lamps', 'rocketmq-orders-v5', 'rocketmq-warehouse-orders'],
      )
      assert.ok(
        logs.some((l) => l.includes('"statusCode":200') && l.includes('validate-rules.request')),
        `a log line per request, got ${JSON.stringify(logs)}`,
      )
    })
  }

  test('the same rules as JSON', async () => {
    const r = validateRulesText(RULES_YAML)
    assert.ok(r.ok)
    const { res, json } = await post(JSON.stringify({ defaults: { profile: 'alibaba' }, rules: r.ruleSet.rules }))
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((json['rules'] as unknown[]).length, 5)
  })

  test("the parent topics to create, the routes' included, from the rule model", async () => {
    const rules = [rawRule(0, { routes: [{ when: { tags: 'Alarm' }, topic: 'alarms/${userProperties.site:-all}' }] })]
    const { res, json } = await post(JSON.stringify({ rules }))
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(json['parentTopics'], [
      { topic: 'alarms', usedBy: [{ ruleId: 'rule-0', outlet: 'routes[0]' }] },
      { topic: 'parent0', usedBy: [{ ruleId: 'rule-0', outlet: 'target' }] },
    ])
  })

  test('an isBase64Encoded body is decoded first', async () => {
    const { res, json } = await post(Buffer.from(RULES_YAML, 'utf8').toString('base64'), { isBase64Encoded: true })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((json['triggers'] as unknown[]).length, 4)
  })
})

describe('validate-rules: 422 for invalid rules, every error with its path', () => {
  test('three problems in three rules come back together, exactly as the shared validator reports them', async () => {
    const body = JSON.stringify({
      rules: [rawRule(1, { id: 'x' }), rawRule(2, { target: { parentTopic: 'a/#' } }), rawRule(3, { source: { groupId: 'GID_bridge_1' } })],
    })
    const { res, json } = await post(body)
    assert.equal(res.statusCode, 422)
    assert.equal(json['valid'], false)
    const paths = json.errors!.map((e) => e.path)
    assert.deepEqual(paths, ['rules[0].id', 'rules[1].target.parentTopic', 'rules[2].source.groupId'])
    const direct = validateRulesText(body)
    assert.ok(!direct.ok)
    assert.deepEqual(json.errors, direct.errors)
  })

  test('YAML with an unknown key and a missing field', async () => {
    const { res, json } = await post(
      'rules:\n  - id: abc\n    colour: red\n    source: {regionId: cn-hangzhou, instanceId: I, topic: t, groupId: GID_bridge_x}\n',
    )
    assert.equal(res.statusCode, 422)
    assert.deepEqual(json.errors!.map((e) => e.path).sort(), ['rules[0].colour', 'rules[0].target'])
  })
})

describe('validate-rules: 400 for a body that cannot be parsed', () => {
  test('YAML syntax error: where it is', async () => {
    const { res, json } = await post('rules:\n  - id: [unclosed\n')
    assert.equal(res.statusCode, 400)
    assert.match(json.errors![0]!.path, /^\(line \d+, column \d+\)$/)
  })

  test('duplicate keys', async () => {
    const { res } = await post('rules: []\nrules: []\n')
    assert.equal(res.statusCode, 400)
  })

  test('empty body', async () => {
    const { res, json } = await post('  \n')
    assert.equal(res.statusCode, 400)
    assert.match(json.errors![0]!.message, /empty/)
  })

  test('body that is not UTF-8', async () => {
    const { res, json } = await post(Buffer.from([0x72, 0x75, 0xff, 0xfe]).toString('base64'), { isBase64Encoded: true })
    assert.equal(res.statusCode, 400)
    assert.match(json.errors![0]!.message, /UTF-8/)
  })

  test('isBase64Encoded body that is not base64', async () => {
    const { res } = await post('rules: []!!', { isBase64Encoded: true })
    assert.equal(res.statusCode, 400)
  })

  test('an event that is not an HTTP trigger event', async () => {
    assert.equal((await call(Buffer.from('not json'))).res.statusCode, 400)
    assert.equal((await call(Buffer.from(fixture('rocketmq-stream-batch.json')))).res.statusCode, 400)
  })

  test('YAML "billion laughs" is refused before it is expanded, with memory bounded', async () => {
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`)
    lines.push('rules: *a9') // 10^10 strings if expanded
    globalThis.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const { res, json } = await post(lines.join('\n'))
    const grown = process.memoryUsage().heapUsed - heapBefore
    assert.equal(res.statusCode, 400)
    assert.equal(json.errors!.length, 1)
    assert.match(json.errors![0]!.message, /alias/i)
    assert.ok(grown < 50 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB`)
  })

  test('nesting deep enough to exhaust the stack is a 400 from the nesting guard, not a crash', async () => {
    for (const body of [
      `rules: ${'['.repeat(20000)}${']'.repeat(20000)}`,
      `profile: it's\nrules: ${'['.repeat(20000)}${']'.repeat(20000)}`,
    ]) {
      const { res, json } = await post(body)
      assert.equal(res.statusCode, 400)
      assert.match(json.errors![0]!.message, /nests brackets more than 64 deep/)
    }
  })
})

describe('validate-rules: 413 for a body over 1 MB', () => {
  test('a 2 MB body', async () => {
    const { res, json } = await post(`# ${'x'.repeat(2 * 1024 * 1024)}\nrules: []\n`)
    assert.equal(res.statusCode, 413)
    assert.match(String(json['error']), /at most 1048576/)
    // Refused by its size: the reply is the size error, not the parser's or the validator's.
    assert.equal(json['errors'], undefined)
  })

  test('a base64 body that decodes to more than 1 MB', async () => {
    const { res } = await post(Buffer.alloc(MAX_BODY_BYTES + 3, 0x23).toString('base64'), { isBase64Encoded: true })
    assert.equal(res.statusCode, 413)
  })

  test('exactly 1 MB is read (and judged on its content)', async () => {
    const body = `#${'x'.repeat(MAX_BODY_BYTES - 12)}\nrules: []\n`
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES)
    assert.equal((await post(body)).res.statusCode, 200)
    assert.equal((await post(body + ' ')).res.statusCode, 413)
  })
})

describe('validate-rules: 405 for any method other than POST', () => {
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
    test(method, async () => {
      const { res } = await call(httpEvent({ method, body: RULES_YAML }))
      assert.equal(res.statusCode, 405)
      assert.equal(res.headers['allow'], 'POST')
    })
  }

  test('the method is judged before the body size', async () => {
    assert.equal((await call(httpEvent({ method: 'GET', body: 'x'.repeat(2 * 1024 * 1024) }))).res.statusCode, 405)
  })
})

describe('validate-rules ?preview: what the bridge would publish, without a broker', () => {
  const rules = () => {
    const r = validateRulesText(RULES_YAML)
    assert.ok(r.ok)
    return { defaults: { profile: r.ruleSet.profile, qos: r.ruleSet.defaultQos }, rules: r.ruleSet.rules }
  }
  const preview = (body: unknown) => post(typeof body === 'string' ? body : JSON.stringify(body), { query: { preview: '' } })

  for (const name of ['rocketmq-stream-batch.json', 'rocketmq-event-driven.json', 'rocketmq-rawdata-batch.json']) {
    test(`sample ${name}: one publish to home/room1/lamp`, async () => {
      const { res, json } = await preview({ rules: rules(), event: JSON.parse(fixture(name)) })
      assert.equal(res.statusCode, 200, res.body)
      const p = json['preview'] as { publishes: Array<Record<string, unknown>>; deadLetters: unknown[] }
      assert.deepEqual(p.deadLetters, [])
      assert.equal(p.publishes.length, 1)
      assert.deepEqual(
        {
          topic: p.publishes[0]!['topic'],
          qos: p.publishes[0]!['qos'],
          retain: p.publishes[0]!['retain'],
          bytes: p.publishes[0]!['payloadBytes'],
          rule: p.publishes[0]!['ruleId'],
          text: p.publishes[0]!['payloadText'],
        },
        { topic: 'home/room1/lamp', qos: 1, retain: false, bytes: 4, rule: 'home-lamps', text: 'TEST' },
      )
    })
  }

  test('rules as YAML text, an event as JSON text; properties and dead-letter reasons', async () => {
    const message = (id: string, tags: string, userProperties: Record<string, string>, topic = 'TopicName') => ({
      specversion: '1.0',
      id,
      subject: `acs:mq:cn-hangzhou:1:${INSTANCE}%${topic}`,
      time: '2026-01-01T00:00:00Z',
      data: { topic, systemProperties: { UNIQ_KEY: id, TAGS: tags, INSTANCE_ID: INSTANCE }, userProperties, body: 'on' },
    })
    const event = [
      message('M1', 'TagB', {
        mqttSecondTopic: 'kitchen',
        qoslevel: '2',
        mqtt5MsgExpireInterval: '60',
        mqtt5ContentType: 'text/plain',
        room: 'kitchen',
      }),
      message('M2', 'TagC', {}),
      message('M3', 'TagA', { qoslevel: '3' }),
      message('M4', 'TagA', {}, 'unknown-topic'),
    ]
    const { res, json } = await preview({ rules: RULES_YAML, event: JSON.stringify(event) })
    assert.equal(res.statusCode, 200, res.body)
    const p = json['preview'] as {
      publishes: Array<Record<string, unknown>>
      deadLetters: Array<{ index: number; ruleId?: string; reason: string }>
    }
    assert.equal(p.publishes.length, 1)
    assert.equal(p.publishes[0]!['topic'], 'home/kitchen')
    assert.equal(p.publishes[0]!['qos'], 2)
    assert.deepEqual(p.publishes[0]!['properties'], {
      messageExpiryInterval: 60,
      contentType: 'text/plain',
      userProperties: { room: 'kitchen' },
    })
    assert.deepEqual(
      p.deadLetters.map((d) => d.index),
      [1, 2, 3],
    )
    assert.match(p.deadLetters[0]!.reason, /tag "TagC" is not accepted/)
    assert.match(p.deadLetters[1]!.reason, /^userProperties\.qoslevel/)
    assert.equal(p.deadLetters[1]!.ruleId, 'home-lamps')
    assert.match(p.deadLetters[2]!.reason, /no enabled rule for RocketMQ topic "unknown-topic"/)
  })

  test('routes: per message the route taken and the rendered topic, the reason, or that it was filtered', async () => {
    const routed = {
      defaults: { profile: 'alibaba' },
      rules: [
        rawRule(1, {
          routes: [{ when: { 'body.kind': 'alarm' }, topic: 'alarms/${body.site}', qos: 2 }],
          unmatched: 'skip',
        }),
      ],
    }
    const entry = (id: string, body: string) => ({ topic: 'topic-1', systemProperties: { UNIQ_KEY: id, INSTANCE_ID: INSTANCE }, body })
    const event = [
      entry('M1', '{"kind":"alarm","site":"hz"}'),
      entry('M2', '{"kind":"info"}'),
      entry('M3', '{"kind":"alarm","site":"a/b"}'),
    ]
    const { res, json } = await preview({ rules: routed, event })
    assert.equal(res.statusCode, 200, res.body)
    const p = json['preview'] as {
      publishes: Array<Record<string, unknown>>
      filtered: Array<Record<string, unknown>>
      deadLetters: Array<{ index: number; reason: string }>
    }
    assert.deepEqual(
      p.publishes.map((m) => [m['index'], m['route'], m['topic'], m['qos']]),
      [[0, 'routes[0]', 'alarms/hz', 2]],
    )
    assert.deepEqual(p.filtered, [{ index: 1, messageId: 'M2', ruleId: 'rule-1' }])
    assert.match(p.deadLetters[0]!.reason, /^routes\[0\]\.topic: \$\{body\.site\} is "a\/b", which contains '\/'/)
  })

  test('1,000 overlapping rules: 422, not 500', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => rawRule(i, { source: { topic: 'same' } }))
    const { res, json } = await post(JSON.stringify({ defaults: { profile: 'mqtt' }, rules: many }))
    assert.equal(res.statusCode, 422)
    assert.equal(json.errors!.length, 999)
    assert.equal(json.errors![0]!.path, 'rules[1].source.tags')
  })

  test('invalid rules: 422 with paths inside the rules', async () => {
    const { res, json } = await preview({ rules: { rules: [rawRule(1, { id: 'x' })] }, event: [] })
    assert.equal(res.statusCode, 422)
    assert.deepEqual(
      json.errors!.map((e) => e.path),
      ['rules: rules[0].id'],
    )
  })

  test('missing event, unknown key: 400', async () => {
    const { res, json } = await preview({ rules: rules(), evnt: [] })
    assert.equal(res.statusCode, 400)
    assert.deepEqual(json.errors!.map((e) => e.path).sort(), ['event', 'evnt'])
  })

  test('a body that is neither JSON nor YAML: 400', async () => {
    assert.equal((await preview('{"rules": ')).res.statusCode, 400)
  })

  test('a preview over 1 MB: 413; a GET: 405', async () => {
    assert.equal((await preview({ rules: rules(), event: 'x'.repeat(MAX_BODY_BYTES) })).res.statusCode, 413)
    assert.equal((await call(httpEvent({ method: 'GET', query: { preview: '' } }))).res.statusCode, 405)
  })
})
