// The preview of routes: per message the route taken and the rendered topic, the dead-letter reason, or
// that it was filtered; and the log line that counts the filtered messages.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { logInvocation } from '../../../shared/bridge/log-lines.js'
import { previewEvent } from '../../../shared/bridge/preview.js'
import type { MessageResult } from '../../../shared/bridge/records.js'
import { summarize } from '../../../shared/bridge/summary.js'
import type { LogFields, Logger } from '../../../shared/logging/logger.js'
import { INSTANCE, rawRule, validRuleSet } from '../../helpers/factories.js'

const rules = validRuleSet([
  rawRule(1, {
    routes: [
      { when: { 'body.kind': 'alarm' }, topic: 'alarms/${body.site}', qos: 2 },
      { when: { tags: 'TagA' }, topic: 'parent1/${tags}' },
    ],
    unmatched: 'skip',
  }),
  rawRule(2),
])

const entry = (uniq: string, over: Record<string, unknown>) => ({
  topic: 'topic-1',
  systemProperties: { INSTANCE_ID: INSTANCE, UNIQ_KEY: uniq, ...((over['sys'] as object) ?? {}) },
  userProperties: {},
  body: 'x',
  ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'sys')),
})

describe('preview with routes', () => {
  test('route taken and topic per publish; dead letters with the route in the reason; filtered listed', () => {
    const event = [
      entry('A', { body: JSON.stringify({ kind: 'alarm', site: 'hz' }) }),
      entry('B', { sys: { TAGS: 'TagA' } }),
      entry('C', {}),
      entry('D', { body: JSON.stringify({ kind: 'alarm' }) }),
      {
        topic: 'topic-2',
        systemProperties: { INSTANCE_ID: INSTANCE, UNIQ_KEY: 'E' },
        userProperties: { mqttSecondTopic: '/x' },
        body: 'x',
      },
    ]
    const p = previewEvent(event, rules)
    assert.deepEqual(
      p.publishes.map((m) => [m.index, m.route, m.topic, m.qos]),
      [
        [0, 'routes[0]', 'alarms/hz', 2],
        [1, 'routes[1]', 'parent1/TagA', 1],
        [4, 'target', 'parent2/x', 1],
      ],
    )
    assert.deepEqual(p.filtered, [{ index: 2, messageId: 'C', ruleId: 'rule-1' }])
    assert.equal(p.deadLetters.length, 1)
    assert.equal(p.deadLetters[0]!.index, 3)
    assert.match(p.deadLetters[0]!.reason, /^routes\[0\]\.topic: \$\{body\.site\} is missing/)
  })
})

describe('log lines for filtered messages', () => {
  test('one bridge.filtered line per invocation, with the count per rule; the invocation line has the total', () => {
    const lines: Array<[string, LogFields]> = []
    const log: Logger = {
      debug: (f) => lines.push(['debug', f]),
      info: (f) => lines.push(['info', f]),
      warn: (f) => lines.push(['warn', f]),
      error: (f) => lines.push(['error', f]),
    }
    const results: MessageResult[] = [
      { status: 'filtered', index: 0, ruleId: 'a' },
      { status: 'filtered', index: 1, ruleId: 'a' },
      { status: 'filtered', index: 2, ruleId: '__proto__' },
    ]
    const { summary, decision } = summarize({
      requestId: 'r',
      received: 3,
      results,
      startedAt: 0,
      publishedAt: 0,
      finishedAt: 1,
      oldestTime: undefined,
      droppedV5Properties: 0,
      sent: 0,
      redact: (t) => t,
    })
    logInvocation(log, results, summary, decision, { requestId: 'r', shape: 'raw-data', target: 'file:x', handedOff: true })
    const filtered = lines.filter(([, f]) => f.event === 'bridge.filtered')
    assert.equal(filtered.length, 1)
    assert.equal(filtered[0]![0], 'info')
    assert.equal(JSON.stringify(filtered[0]![1]), '{"event":"bridge.filtered","requestId":"r","filtered":3,"rules":{"a":2,"__proto__":1}}')
    const invocation = lines.find(([, f]) => f.event === 'bridge.invocation')!
    assert.equal(invocation[1]['filtered'], 3)
    assert.equal(lines.length, 2, 'no line per filtered message')
  })

  test('duplicates and expired messages: one count line each per invocation naming the rules, so npm run logs attributes them', () => {
    const lines: LogFields[] = []
    const log: Logger = { debug: () => {}, info: (f) => lines.push(f), warn: (f) => lines.push(f), error: (f) => lines.push(f) }
    const results: MessageResult[] = [
      { status: 'duplicate', index: 0, ruleId: 'a', seen: 'in this batch' },
      { status: 'duplicate', index: 1, ruleId: 'b', seen: 'by this instance' },
      { status: 'expired', index: 2, ruleId: 'a', messageId: 'M2', ageMs: 700_000, deadline: '10m', from: 'time' },
    ]
    const { summary, decision } = summarize({
      ...{ requestId: 'r', received: 3, results, startedAt: 0, publishedAt: 0, finishedAt: 1 },
      ...{ oldestTime: undefined, droppedV5Properties: 0, sent: 0, redact: (t: string) => t },
    })
    logInvocation(log, results, summary, decision, { requestId: 'r', shape: 'raw-data', target: 'file:x', handedOff: true })
    const of = (event: string) => lines.filter((f) => f.event === event).map((f) => JSON.stringify(f))
    assert.deepEqual(of('bridge.duplicates'), ['{"event":"bridge.duplicates","requestId":"r","duplicates":2,"rules":{"a":1,"b":1}}'])
    assert.deepEqual(of('bridge.expired'), ['{"event":"bridge.expired","requestId":"r","expired":1,"rules":{"a":1}}'])
    assert.deepEqual(of('bridge.expired-message'), [
      '{"event":"bridge.expired-message","requestId":"r","ruleId":"a","messageId":"M2","index":2,"ageMs":700000,"deadline":"10m","from":"time","kept":"dropped"}',
    ])
    const invocation = lines.find((f) => f.event === 'bridge.invocation')!
    assert.deepEqual([invocation['duplicates'], invocation['expired'], invocation['received']], [2, 1, 3])
  })
})
