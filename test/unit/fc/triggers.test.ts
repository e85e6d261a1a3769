// Rules -> EventBridge RocketMQ trigger configurations, and writing them into an s.yaml document.

import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import YAML from 'yaml'
import { syncTriggers } from '../../../scripts/cli/triggers.js'
import { SYamlError } from '../../../shared/errors.js'
import { DEFAULT_TRIGGER_SETTINGS, offsetParameters, triggerForRule, triggersForRules } from '../../../shared/fc/triggers.js'
import { INSTANCE, rawRule, validRuleSet } from '../../helpers/factories.js'

describe('triggers: one per enabled rule, from the rule source', () => {
  test('source fields map to sourceRocketMQParameters', () => {
    const set = validRuleSet([rawRule(1, { source: { tags: 'TagA||TagB', regionId: 'cn-shanghai' } })])
    const [t] = triggersForRules(set)
    assert.ok(t)
    assert.equal(t.triggerName, 'rocketmq-rule-1')
    assert.equal(t.triggerType, 'eventbridge')
    assert.deepEqual(t.triggerConfig.eventSourceConfig, {
      eventSourceType: 'RocketMQ',
      eventSourceParameters: {
        sourceRocketMQParameters: {
          RegionId: 'cn-shanghai',
          InstanceId: INSTANCE,
          Topic: 'topic-1',
          Tag: 'TagA||TagB',
          GroupID: 'GID_bridge_1',
          Offset: 'CONSUME_FROM_LAST_OFFSET',
          InstanceType: 'Cloud_4',
        },
      },
    })
    assert.equal(t.triggerConfig.eventRuleFilterPattern, '{}')
    assert.deepEqual(t.triggerConfig.eventSinkConfig, { deliveryOption: { mode: 'event-streaming', eventSchema: 'CloudEvents' } })
    assert.equal(t.triggerConfig.runOptions.mode, 'event-streaming')
    assert.equal(t.triggerConfig.triggerEnable, true)
  })

  test('offsets: latest, earliest, ISO timestamp -> CONSUME_FROM_TIMESTAMP with epoch milliseconds', () => {
    assert.deepEqual(offsetParameters('latest'), { Offset: 'CONSUME_FROM_LAST_OFFSET' })
    assert.deepEqual(offsetParameters('earliest'), { Offset: 'CONSUME_FROM_FIRST_OFFSET' })
    assert.deepEqual(offsetParameters('2026-01-31T08:00:00Z'), {
      Offset: 'CONSUME_FROM_TIMESTAMP',
      Timestamp: Date.UTC(2026, 0, 31, 8, 0, 0),
    })
    assert.deepEqual(offsetParameters('2026-01-31T16:00:00+08:00'), {
      Offset: 'CONSUME_FROM_TIMESTAMP',
      Timestamp: Date.UTC(2026, 0, 31, 8, 0, 0),
    })
    const set = validRuleSet([rawRule(1, { source: { offset: '2026-01-31T08:00:00Z' } }), rawRule(2, { source: { offset: 'earliest' } })])
    const params = triggersForRules(set).map((t) => t.triggerConfig.eventSourceConfig.eventSourceParameters.sourceRocketMQParameters)
    assert.equal(params[0]!.Timestamp, 1769846400000)
    assert.equal(params[1]!.Offset, 'CONSUME_FROM_FIRST_OFFSET')
    assert.equal('Timestamp' in params[1]!, false)
  })

  test('disabled rules get no trigger; order follows the rules', () => {
    const set = validRuleSet([rawRule(3), rawRule(1, { enabled: false }), rawRule(2)])
    assert.deepEqual(
      triggersForRules(set).map((t) => t.triggerName),
      ['rocketmq-rule-3', 'rocketmq-rule-2'],
    )
  })

  test('the name depends on the rule id only', () => {
    const a = triggerForRule(validRuleSet([rawRule(1)]).rules[0]!)
    const b = triggerForRule(
      validRuleSet([rawRule(1, { source: { topic: 'other', groupId: 'GID_other' }, target: { parentTopic: 'elsewhere' } })]).rules[0]!,
    )
    assert.equal(a.triggerName, b.triggerName)
    assert.notDeepEqual(a, b)
  })

  test('batch window, retry strategy, errors tolerance: rule, else defaults.trigger, else built-in, field by field', () => {
    const set = validRuleSet([rawRule(1, { trigger: { batchSize: 500, errorsTolerance: 'ALL' } }), rawRule(2)], {
      trigger: { batchWindowSeconds: 5, errorsTolerance: 'NONE' },
    })
    const [one, two] = triggersForRules(set).map((t) => t.triggerConfig.runOptions)
    assert.deepEqual(one, {
      mode: 'event-streaming',
      batchWindow: { CountBasedWindow: 500, TimeBasedWindow: 5 },
      retryStrategy: { PushRetryStrategy: DEFAULT_TRIGGER_SETTINGS.retryStrategy },
      errorsTolerance: 'ALL',
    })
    assert.deepEqual(two, {
      mode: 'event-streaming',
      batchWindow: { CountBasedWindow: DEFAULT_TRIGGER_SETTINGS.batchSize, TimeBasedWindow: 5 },
      retryStrategy: { PushRetryStrategy: 'BACKOFF_RETRY' },
      errorsTolerance: 'NONE',
    })
    const three = triggersForRules(validRuleSet([rawRule(3, { trigger: { retryStrategy: 'EXPONENTIAL_DECAY_RETRY' } })]))[0]!.triggerConfig
      .runOptions
    assert.deepEqual(three.retryStrategy, { PushRetryStrategy: 'EXPONENTIAL_DECAY_RETRY' })
    assert.deepEqual(three.batchWindow, {
      CountBasedWindow: DEFAULT_TRIGGER_SETTINGS.batchSize,
      TimeBasedWindow: DEFAULT_TRIGGER_SETTINGS.batchWindowSeconds,
    })
  })
})

const S_YAML = `# top comment
edition: 3.0.0
name: demo   # aligned   comment
resources:
  bridge:
    component: fc3
    props:
      functionName: rocketmq-mqtt-bridge # the bridge
      region: cn-hangzhou
      # generated below
      triggers:
        # a hand-written timer, not ours
        - triggerName: keep-warm
          triggerType: timer
          triggerConfig: { cronExpression: '@every 5m', enable: true }
        - triggerName: rocketmq-gone
          triggerType: eventbridge
          triggerConfig: {}
  other:
    component: fc3
    props:
      functionName: other   # untouched
      triggers: []
`

describe('triggers: writing them into s.yaml', () => {
  const set = validRuleSet([rawRule(1), rawRule(2, { enabled: false }), rawRule(3)])

  test('managed triggers replaced, others kept with their comments, the rest of the file byte for byte', () => {
    const r = syncTriggers(S_YAML, set)
    assert.equal(r.changed, true)
    const doc = YAML.parse(r.text) as {
      resources: { bridge: { props: { triggers: Array<{ triggerName: string }> } }; other: { props: { triggers: unknown[] } } }
    }
    assert.deepEqual(
      doc.resources.bridge.props.triggers.map((t) => t.triggerName),
      ['keep-warm', 'rocketmq-rule-1', 'rocketmq-rule-3'],
    )
    assert.deepEqual(doc.resources.bridge.props.triggers.slice(1), JSON.parse(JSON.stringify(triggersForRules(set))))
    assert.deepEqual(doc.resources.other.props.triggers, [])
    // Everything before the triggers list and after it is as written.
    const head = S_YAML.slice(0, S_YAML.indexOf('        # a hand-written timer'))
    const tail = S_YAML.slice(S_YAML.indexOf('  other:'))
    assert.ok(r.text.startsWith(head), r.text)
    assert.ok(r.text.endsWith(tail), r.text)
    assert.ok(r.text.includes('# a hand-written timer, not ours'))
    assert.ok(r.differences.some((d) => d.startsWith('rocketmq-gone: in s.yaml, but no enabled rule')))
    assert.ok(r.differences.includes('rocketmq-rule-1: missing from s.yaml (an enabled rule needs it)'))
  })

  test('idempotent: a second run changes nothing and reports no difference', () => {
    const once = syncTriggers(S_YAML, set)
    const twice = syncTriggers(once.text, set)
    assert.equal(twice.changed, false)
    assert.deepEqual(twice.differences, [])
    assert.equal(twice.text, once.text)
  })

  test('a changed rule shows up as a field difference', () => {
    const once = syncTriggers(S_YAML, set).text
    const changed = validRuleSet([rawRule(1, { source: { groupId: 'GID_bridge_new' } }), rawRule(2, { enabled: false }), rawRule(3)])
    const r = syncTriggers(once, changed)
    assert.deepEqual(r.differences, [
      'rocketmq-rule-1.triggerConfig.eventSourceConfig.eventSourceParameters.sourceRocketMQParameters.GroupID: s.yaml has "GID_bridge_1", the rules give "GID_bridge_new"',
    ])
  })

  test('enabling a rule adds its trigger; disabling one removes it', () => {
    const once = syncTriggers(S_YAML, set).text
    const flipped = validRuleSet([rawRule(1, { enabled: false }), rawRule(2), rawRule(3)])
    const r = syncTriggers(once, flipped)
    assert.deepEqual(r.differences.sort(), [
      'rocketmq-rule-1: in s.yaml, but no enabled rule has id "rule-1"',
      'rocketmq-rule-2: missing from s.yaml (an enabled rule needs it)',
    ])
    const names = (
      YAML.parse(r.text) as { resources: { bridge: { props: { triggers: Array<{ triggerName: string }> } } } }
    ).resources.bridge.props.triggers.map((t) => t.triggerName)
    assert.deepEqual(names, ['keep-warm', 'rocketmq-rule-2', 'rocketmq-rule-3'])
  })

  test('a flow-style empty list becomes a block list', () => {
    const r = syncTriggers('resources:\n  b:\n    props:\n      functionName: rocketmq-mqtt-bridge\n      triggers: []   # none yet\n', set)
    assert.match(r.text, /triggers:\n {8}- triggerName: rocketmq-rule-1\n/)
    assert.equal(syncTriggers(r.text, set).changed, false)
  })

  test('no bridge resource: a clear error', () => {
    assert.throws(
      () => syncTriggers('resources:\n  x:\n    props:\n      functionName: other\n', set),
      (e: unknown) => e instanceof SYamlError && /rocketmq-mqtt-bridge/.test(e.message),
    )
  })
})

describe('triggers for every source type', () => {
  const rules = validRuleSet([
    rawRule(1),
    rawRule(2, {
      source: {
        type: 'apsaramq-5',
        instanceId: 'rmq-cn-jte3w5i0a01',
        groupId: 'bridge-orders',
        topic: 'orders',
        acl: { username: '6W0xz2uPfiwpXXXX', passwordEnv: 'ROCKETMQ_ORDERS_PASSWORD' },
        network: { vpcId: 'vpc-uf6of9452b2pba82c', vSwitchIds: ['vsw-a1', 'vsw-b2'], securityGroupId: 'sg-hp35r2hc3a3sv8q2' },
      },
    }),
    rawRule(3, {
      source: { type: 'apache', instanceId: undefined, endpoint: '10.0.0.8:9876', groupId: 'bridge_self', topic: 'self-orders' },
    }),
    rawRule(4, {
      source: {
        type: 'apache',
        instanceId: undefined,
        endpoint: 'ns.example:9876',
        groupId: 'g4',
        topic: 't4',
        instanceType: 'SELF_BUILT',
      },
    }),
  ])
  const params = triggersForRules(rules).map((t) => t.triggerConfig.eventSourceConfig.eventSourceParameters.sourceRocketMQParameters)

  test('4.x: what it always had, plus InstanceType Cloud_4; no network or ACL fields', () => {
    assert.deepEqual(Object.keys(params[0]!).sort(), ['GroupID', 'InstanceId', 'InstanceType', 'Offset', 'RegionId', 'Tag', 'Topic'])
    assert.equal(params[0]!.InstanceType, 'Cloud_4')
  })

  test('5.x with ACL and a VPC: Cloud_5, the password as the deployer environment variable, PrivateNetwork with all three IDs', () => {
    assert.deepEqual(params[1], {
      RegionId: 'cn-hangzhou',
      InstanceId: 'rmq-cn-jte3w5i0a01',
      Topic: 'orders',
      Tag: '*',
      GroupID: 'bridge-orders',
      Offset: 'CONSUME_FROM_LAST_OFFSET',
      InstanceType: 'Cloud_5',
      AuthType: 'ACL',
      InstanceUsername: '6W0xz2uPfiwpXXXX',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Serverless Devs' own ${env()} syntax, resolved at deploy time
      InstancePassword: "${env('ROCKETMQ_ORDERS_PASSWORD')}",
      InstanceNetwork: 'PrivateNetwork',
      InstanceVpcId: 'vpc-uf6of9452b2pba82c',
      InstanceVSwitchIds: 'vsw-a1,vsw-b2',
      InstanceSecurityGroupId: 'sg-hp35r2hc3a3sv8q2',
    })
  })

  test('self-managed: SelfBuilt (overridable), the NameServer endpoint, no instance ID, PublicNetwork', () => {
    assert.equal(params[2]!.InstanceType, 'SelfBuilt')
    assert.equal(params[2]!.InstanceEndpoint, '10.0.0.8:9876')
    assert.equal(params[2]!.InstanceId, undefined)
    assert.equal(params[2]!.InstanceNetwork, 'PublicNetwork')
    assert.equal(params[3]!.InstanceType, 'SELF_BUILT')
  })

  test('no secret value in any generated trigger', () => {
    assert.ok(!JSON.stringify(triggersForRules(rules)).includes('hunter2'))
    assert.match(JSON.stringify(params[1]), /\$\{env\('ROCKETMQ_ORDERS_PASSWORD'\)\}/)
  })

  test('every generated trigger is valid against the fc3 schema (IEventBridge)', (t) => {
    const path = process.env['FC3_SCHEMA'] ?? fileURLToPath(new URL('../../../../shared/reference/fc3-schema.json', import.meta.url))
    if (!existsSync(path)) {
      t.skip(`fc3 schema not found at ${path}: set FC3_SCHEMA or check out ../shared/reference beside the repository`)
      return
    }
    const schema = JSON.parse(readFileSync(path, 'utf8')) as { definitions: Record<string, unknown> }
    const ajv = new Ajv({ allErrors: true, strict: false })
    const check = ajv.compile({ definitions: schema.definitions, $ref: '#/definitions/IEventBridge' })
    for (const trigger of triggersForRules(rules))
      assert.ok(check(trigger.triggerConfig), `${trigger.triggerName}: ${ajv.errorsText(check.errors)}`)
  })
})

describe('triggers for ordered rules (ordering: message-group)', () => {
  const set = validRuleSet([rawRule(1, { ordering: 'message-group' }), rawRule(2)])
  const [ordered, plain] = triggersForRules(set)

  test('synchronous invocation, so that EventBridge waits for each batch; other rules stay asynchronous', () => {
    assert.equal(ordered!.triggerConfig.asyncInvocationType, false)
    assert.equal(plain!.triggerConfig.asyncInvocationType, true)
    assert.match(ordered!.description, /, ordered per message group$/)
    assert.doesNotMatch(plain!.description, /ordered/)
  })

  test('everything else is as for any rule', () => {
    const { asyncInvocationType: _a, ...rest } = ordered!.triggerConfig
    const { asyncInvocationType: _b, ...expected } = triggerForRule(validRuleSet([rawRule(1)]).rules[0]!).triggerConfig
    assert.deepEqual(rest, expected)
  })

  test('routes change nothing in the trigger but its description: one trigger, one consumer group per rule', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a route template, as rules.yaml writes it
    const routed = validRuleSet([rawRule(1, { routes: [{ when: { tags: 'A' }, topic: 'alarms/${tags}' }], unmatched: 'skip' })])
    const { description: a, ...withRoutes } = triggersForRules(routed)[0]!
    const { description: b, ...without } = triggersForRules(validRuleSet([rawRule(1)]))[0]!
    assert.deepEqual(withRoutes, without)
    // unmatched: skip, so no message reaches the target's parent topic: the routes' alone.
    assert.match(a, / -> MQTT alarms$/)
    assert.doesNotMatch(b, /alarms/)
  })

  test("the description names the rule's delivery deadlines: its own or the default, and its routes'", () => {
    const set = validRuleSet(
      [
        rawRule(1, { target: { parentTopic: 'p1', deadline: '30s' } }),
        rawRule(2, {
          routes: [
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a route template, as rules.yaml writes it
            { when: { tags: 'A' }, topic: 'p2/${tags}', deadline: '10s' },
            { when: { tags: 'B' }, topic: 'p2/b' },
          ],
        }),
        rawRule(3),
      ],
      { deadline: '10m' },
    )
    const [own, routed, inherited] = triggersForRules(set).map((t) => t.description)
    assert.match(own!, /, deadline 30s$/)
    assert.match(routed!, /, deadlines 10m, 10s$/)
    assert.match(inherited!, /, deadline 10m$/)
    assert.doesNotMatch(triggersForRules(validRuleSet([rawRule(1)]))[0]!.description, /deadline/)
  })

  test("the description names every parent topic the rule publishes to, the routes' included", () => {
    const routed = validRuleSet([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a route template, as rules.yaml writes it
      rawRule(1, { target: { parentTopic: 'plant' }, routes: [{ when: { tags: 'A' }, topic: 'alarms/${tags}' }] }),
    ])
    assert.match(triggersForRules(routed)[0]!.description, / -> MQTT plant, alarms$/)
  })

  test('valid against the fc3 schema (IEventBridge)', (t) => {
    const path = process.env['FC3_SCHEMA'] ?? fileURLToPath(new URL('../../../../shared/reference/fc3-schema.json', import.meta.url))
    if (!existsSync(path)) {
      t.skip(`fc3 schema not found at ${path}: set FC3_SCHEMA or check out ../shared/reference beside the repository`)
      return
    }
    const schema = JSON.parse(readFileSync(path, 'utf8')) as { definitions: Record<string, unknown> }
    const ajv = new Ajv({ allErrors: true, strict: false })
    const check = ajv.compile({ definitions: schema.definitions, $ref: '#/definitions/IEventBridge' })
    assert.ok(check(ordered!.triggerConfig), ajv.errorsText(check.errors))
  })
})
