// Source types: ApsaraMQ for RocketMQ 4.x (the default), 5.x, and self-managed Apache RocketMQ, each
// with its own naming rules, every error with its path.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { validateRules } from '../../../shared/rules/validate.js'
import { rawRule } from '../../helpers/factories.js'

const v5 = (over: Record<string, unknown> = {}) => ({
  type: 'apsaramq-5',
  regionId: 'cn-hangzhou',
  instanceId: 'rmq-cn-jte3w5i0a01',
  topic: 'orders',
  groupId: 'bridge-orders',
  ...over,
})
const apache = (over: Record<string, unknown> = {}) => ({
  type: 'apache',
  regionId: 'cn-hangzhou',
  endpoint: '10.0.0.8:9876',
  topic: 'orders',
  groupId: 'bridge_orders',
  ...over,
})

function errorsFor(source: Record<string, unknown>): Array<{ path: string; message: string }> {
  const r = validateRules({ rules: [{ id: 'rule-1', source, target: { parentTopic: 'orders' } }] })
  return r.ok ? [] : r.errors
}

function sourceOf(source: Record<string, unknown>) {
  const r = validateRules({ rules: [{ id: 'rule-1', source, target: { parentTopic: 'orders' } }] })
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors))
  return r.ruleSet.rules[0]!.source
}

describe('source types', () => {
  test('a rule without a type is apsaramq-4, as every rule written before', () => {
    const r = validateRules({ rules: [rawRule(1)] })
    assert.ok(r.ok)
    assert.equal(r.ruleSet.rules[0]!.source.type, 'apsaramq-4')
  })

  test('valid 5.x and self-managed sources, with ACL and private network', () => {
    const s = sourceOf(
      v5({
        endpoint: 'rmq-cn-jte3w5i0a01-vpc.cn-hangzhou.rmq.aliyuncs.com:8080',
        acl: { username: '6W0xz2uPfiwpXXXX', passwordEnv: 'ROCKETMQ_ORDERS_PASSWORD' },
        network: { vpcId: 'vpc-uf6of9452b2pba82c', vSwitchIds: ['vsw-uf6gwtbn6etadpvz7'], securityGroupId: 'sg-hp35r2hc3a3sv8q2' },
      }),
    )
    assert.equal(s.type, 'apsaramq-5')
    assert.equal(s.acl?.passwordEnv, 'ROCKETMQ_ORDERS_PASSWORD')
    const a = sourceOf(apache())
    assert.equal(a.instanceId, undefined, 'a self-managed cluster needs no instance ID')
  })

  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an unknown type', v5({ type: 'kafka' }), 'rules[0].source.type', /must be apsaramq-4, apsaramq-5 or apache/],
    [
      'a 5.x instance ID on a 4.x rule',
      { ...rawRule(1).source, instanceId: 'rmq-cn-abc' },
      'rules[0].source.instanceId',
      /5\.x instance ID; set source.type: apsaramq-5/,
    ],
    ['a 4.x instance ID on a 5.x rule', v5({ instanceId: 'MQ_INST_123_abc' }), 'rules[0].source.instanceId', /MQ_INST_ IDs are 4\.x/],
    ['a 5.x rule without instance', v5({ instanceId: undefined }), 'rules[0].source.instanceId', /is required for source type apsaramq-5/],
    [
      'a 4.x group without GID_',
      { ...rawRule(1).source, groupId: 'bridge-orders' },
      'rules[0].source.groupId',
      /starting with GID_ or GID-/,
    ],
    ['a 5.x group too long', v5({ groupId: 'g'.repeat(61) }), 'rules[0].source.groupId', /1-60 letters/],
    ['a 5.x group with a dot', v5({ groupId: 'bridge.orders' }), 'rules[0].source.groupId', /1-60 letters, digits/],
    ['a 5.x topic with %', v5({ topic: 'a%b' }), 'rules[0].source.topic', /RocketMQ 5\.x topic name/],
    ['a reserved 5.x topic', v5({ topic: 'TBW102' }), 'rules[0].source.topic', /reserved system topic/],
    ['a reserved prefix', apache({ topic: 'rmq_sys_trace' }), 'rules[0].source.topic', /starting with rmq_sys_ are reserved/],
    ['a reserved suffix', apache({ topic: 'cluster_REPLY_TOPIC' }), 'rules[0].source.topic', /_REPLY_TOPIC are reserved/],
    [
      'apache without endpoint',
      apache({ endpoint: undefined }),
      'rules[0].source.endpoint',
      /required for source type apache: the NameServer/,
    ],
    ['an endpoint without port', apache({ endpoint: '10.0.0.8' }), 'rules[0].source.endpoint', /host:port/],
    [
      'a password in the rules',
      v5({ acl: { username: 'u', passwordEnv: 'P', password: 'hunter2' } }),
      'rules[0].source.acl.password',
      /must not be in rules\.yaml/,
    ],
    [
      'a bad passwordEnv',
      v5({ acl: { username: 'u', passwordEnv: '1-PASSWORD' } }),
      'rules[0].source.acl.passwordEnv',
      /name of an environment variable/,
    ],
    ['ACL without a username', v5({ acl: { passwordEnv: 'P' } }), 'rules[0].source.acl.username', /is required/],
    [
      'a network without its security group',
      v5({ network: { vpcId: 'vpc-a1', vSwitchIds: ['vsw-b2'] } }),
      'rules[0].source.network.securityGroupId',
      /is required/,
    ],
    [
      'a network without vSwitches',
      v5({ network: { vpcId: 'vpc-a1', vSwitchIds: [], securityGroupId: 'sg-c3' } }),
      'rules[0].source.network.vSwitchIds',
      /at least one vSwitch/,
    ],
    [
      'a bad VPC ID',
      v5({ network: { vpcId: 'my-vpc', vSwitchIds: ['vsw-b2'], securityGroupId: 'sg-c3' } }),
      'rules[0].source.network.vpcId',
      /VPC ID/,
    ],
    ['a bad instanceType override', apache({ instanceType: 'self built' }), 'rules[0].source.instanceType', /letters, digits or _/],
  ]
  for (const [name, source, path, message] of cases) {
    test(`refused: ${name}`, () => {
      const errors = errorsFor(source)
      const hit = errors.find((e) => e.path === path)
      assert.ok(hit, `no error at ${path}: ${JSON.stringify(errors)}`)
      assert.match(hit.message, message)
    })
  }

  test('several problems of one source are reported together', () => {
    const paths = errorsFor(v5({ instanceId: 'x', groupId: 'a.b', topic: 'TBW102' })).map((e) => e.path)
    assert.deepEqual(paths.sort(), ['rules[0].source.groupId', 'rules[0].source.instanceId', 'rules[0].source.topic'])
  })

  test('a rule without an instance overlaps any rule on its topic with overlapping tags', () => {
    const r = validateRules({
      rules: [
        { id: 'rule-1', source: v5(), target: { parentTopic: 'a' } },
        { id: 'rule-2', source: apache(), target: { parentTopic: 'b' } },
        { id: 'rule-3', source: apache({ topic: 'other', groupId: 'g3' }), target: { parentTopic: 'c' } },
      ],
    })
    assert.ok(!r.ok)
    assert.deepEqual(r.errors, [
      {
        path: 'rules[1].source.tags',
        message: 'overlaps rules[0] (same topic, and one names no instance, tags "*" and "*"): a message would match both rules',
      },
    ])
  })
})
