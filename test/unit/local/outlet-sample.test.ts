// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
// Messages made from a rule as the user wrote it, one per outlet (scripts/local/outlet-sample.ts and
// start-rules.ts): each is checked with the bridge's own preview to take the outlet it was made for, to land
// on a topic of this run (smoke-<token> in every placeholder), and the outlets no such message reaches are named.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chooseSmokeMessage, SmokeFailure } from '../../../scripts/cli/smoke/message.js'
import { outletSample } from '../../../scripts/local/outlet-sample.js'
import { samplesFromRules } from '../../../scripts/local/start-rules.js'
import { previewEvent } from '../../../shared/bridge/preview.js'
import { validateRulesText } from '../../../shared/rules/validate.js'

const routedText = readFileSync(fileURLToPath(new URL('../../fixtures/routed-rules.yaml', import.meta.url)), 'utf8')

function valid(text: string) {
  const r = validateRulesText(text)
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors))
  return r
}

describe('a message per outlet, made from the rules', () => {
  const { ruleSet, model } = valid(routedText)

  test("each enabled rule's routes and target get one, and the bridge's preview takes each through the outlet it was made for", () => {
    const { samples, skipped } = samplesFromRules(ruleSet, model, '1880770869021234')
    assert.deepEqual(skipped, [])
    assert.deepEqual(
      samples.map((s) => s.name),
      ['rule plant routes[0]', 'rule plant routes[1]', 'rule plant target', 'rule orders routes[0]'],
    )
    for (const s of samples) {
      const p = previewEvent(s.event, ruleSet)
      assert.equal(p.publishes.length, 1, s.name)
      assert.equal(`rule ${p.publishes[0]!.ruleId} ${p.publishes[0]!.route}`, s.name)
      assert.equal(p.publishes[0]!.topic, s.expect.mqtt[0]!.topic)
    }
  })

  test("filters get their values as written (1.10 stays 1.10), a list its first, a prefix the prefix and this run's token", () => {
    const plant = model.rule('plant')!
    const v = outletSample(plant, plant.outlets[1]!, ruleSet, 'abc123')
    assert.ok(v.ok)
    assert.equal(v.value.userProperties['version'], '1.10')
    assert.equal(v.value.userProperties['line'], 'smoke-abc123')
    const alarm = outletSample(plant, plant.outlets[0]!, ruleSet, 'abc123')
    assert.ok(alarm.ok)
    assert.equal(alarm.value.tag, 'Alarm')
    assert.deepEqual(JSON.parse(alarm.value.body!), { severity: 'critical', site: 'smoke-abc123', smokeTest: 'abc123' })
    const orders = model.rule('orders')!
    const order = outletSample(orders, orders.outlets[0]!, ruleSet, 'abc123')
    assert.ok(order.ok)
    assert.deepEqual(JSON.parse(order.value.body!), { kind: 'ord-smoke-abc123', customer: { id: 'smoke-abc123' }, smokeTest: 'abc123' })
  })

  test('an outlet no made message reaches is named with why: an earlier route takes what was made for it', () => {
    // routes[2] fills ${userProperties.device}, which makes routes[1]'s filter match first.
    const text = routedText.replace(
      '      - when: { userProperties.version: 1.10 }\n        topic: "plant/line-${userProperties.line}"',
      [
        '      - when: { userProperties.device: { exists: true } }',
        '        topic: "alarms/device-${userProperties.device}"',
        '      - when: { userProperties.version: 1.10 }',
        '        topic: "plant/line-${userProperties.device}"',
      ].join('\n'),
    )
    const r = valid(text)
    const { samples, skipped } = samplesFromRules(r.ruleSet, r.model, '1880770869021234')
    assert.deepEqual(skipped, ['rule plant routes[2]: the message made for it takes routes[1]'])
    assert.ok(samples.some((s) => s.name === 'rule plant routes[1]'))
  })
})

describe("smoke's message", () => {
  const { ruleSet, model } = valid(routedText)

  test('a routed rule: the first route a made message reaches, on a topic of this run', () => {
    const c = chooseSmokeMessage({ rule: model.rule('plant')!, ruleSet, accountId: '1', properties: {}, body: undefined, token: 'f00d' })
    assert.equal(c.outlet, 'routes[0]')
    assert.equal(c.expected.topic, 'alarms/smoke-f00d/smoke-f00d')
  })

  test('a --body no route accepts: refused with the flags to give', () => {
    assert.throws(
      () => chooseSmokeMessage({ rule: model.rule('orders')!, ruleSet, accountId: '1', properties: {}, body: 'plain text', token: 'f00d' }),
      (err: unknown) => err instanceof SmokeFailure && /give the message by hand: --body '\{…\}' with kind/.test(err.message),
    )
  })
})
