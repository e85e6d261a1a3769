// `npm run preflight`, check by check: sample IDs, the bridge's settings with its own schema, region, ACL
// passwords, triggers, the fc3 schema, the Serverless Devs credentials; and no secret in what it prints.

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { checkCredentials } from '../../../scripts/cli/preflight/credentials.js'
import { checkEnvironment } from '../../../scripts/cli/preflight/environment-check.js'
import { checkAcl, checkRegion, checkRules, checkSamples, checkTriggers } from '../../../scripts/cli/preflight/rules-checks.js'
import { checkRendered } from '../../../scripts/cli/preflight/s-yaml-check.js'
import { report } from '../../../scripts/cli/preflight.js'
import { readDeployment } from '../../../scripts/local/deployment.js'
import { SAMPLE_IDS } from '../../../scripts/local/sample-ids.js'
import type { RuleSet } from '../../../shared/rules/schema.js'
import { validateRulesText } from '../../../shared/rules/validate.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const rulesText = readFileSync(join(root, 'rules.yaml'), 'utf8')
const sYamlText = readFileSync(join(root, 's.yaml'), 'utf8')

function rules(text: string): RuleSet {
  const r = validateRulesText(text)
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors))
  return r.ruleSet
}

/** rules.yaml with every sample identifier replaced by one of a real-looking deployment. */
const OWN_RULES = rulesText
  .replaceAll('MQ_INST_1234567890123456_BXhFHryi', 'MQ_INST_1880770869021234_BXaaaaaa')
  .replaceAll('rmq-cn-jte3w5i0a01', 'rmq-cn-abcd1234ef5')
  .replaceAll('10.0.0.8:9876', '172.16.3.4:9876')
  .replace(/groupId: (\S+)/g, 'groupId: $1_prod')

const deployment = (env: NodeJS.ProcessEnv) => readDeployment(join(root, 's.yaml'), env, '<AccountID>')
const levels = (fs: Array<{ level: string }>) => fs.map((f) => f.level)

describe('sample IDs', () => {
  test('the one list covers every source in rules.yaml and every instance in examples/events.json', () => {
    const set = rules(rulesText)
    for (const r of set.rules) {
      if (r.source.instanceId) assert.ok(SAMPLE_IDS.instanceIds.includes(r.source.instanceId as never), r.source.instanceId)
      if (r.source.endpoint) assert.ok(SAMPLE_IDS.endpoints.includes(r.source.endpoint as never), r.source.endpoint)
      assert.ok(SAMPLE_IDS.groupIds.includes(r.source.groupId as never), r.source.groupId)
    }
    const events = readFileSync(join(root, 'examples/events.json'), 'utf8')
    for (const [, id] of events.matchAll(/"INSTANCE_ID": "([^"]+)"/g)) assert.ok(SAMPLE_IDS.instanceIds.includes(id as never), id)
  })

  test('refused in enabled rules, a warning in disabled ones, nothing once replaced', () => {
    const found = checkSamples(rules(rulesText))
    const refused = found.filter((f) => f.level === 'problem').map((f) => f.message)
    assert.ok(
      refused.some((m) => m.startsWith('rules[0] (device-commands): source.instanceId "MQ_INST_1234567890123456_BXhFHryi" is a sample')),
    )
    assert.ok(refused.some((m) => m.includes('source.groupId "bridge-orders"')))
    assert.ok(refused.some((m) => m.includes('source.endpoint "10.0.0.8:9876"')))
    assert.ok(found.filter((f) => f.level === 'warning').every((f) => f.message.includes('firmware-blobs')))
    assert.deepEqual(levels(checkSamples(rules(OWN_RULES))), ['ok'])
  })
})

describe("the bridge's settings, with the bridge's own configuration schema", () => {
  const own = rules(OWN_RULES)
  const env = { MQTT_URL: 'mqtts://post-cn-abcd1234.mqtt.aliyuncs.com:8883' }

  test('MQTT_URL missing or malformed is caught here, named as the bridge names it', () => {
    const missing = checkEnvironment(deployment({}), own, {})
    assert.ok(
      missing.some((f) => f.level === 'problem' && f.message.startsWith('MQTT_URL: is required')),
      JSON.stringify(missing),
    )
    const http = checkEnvironment(deployment({ MQTT_URL: 'http://broker:1883' }), own, {})
    assert.ok(
      http.some((f) => f.level === 'problem' && /^MQTT_URL: must use mqtt:\/\//.test(f.message)),
      JSON.stringify(http),
    )
    assert.deepEqual(levels(checkEnvironment(deployment(env), own, env)), ['ok'])
  })

  test("the docs' example broker host, this machine's address, a client ID prefix that is no Group ID under profile alibaba, a bad number", () => {
    const sample = checkEnvironment(deployment({ MQTT_URL: 'mqtts://post-cn-xxxx.mqtt.aliyuncs.com:8883' }), own, {})
    assert.ok(sample.some((f) => f.level === 'problem' && f.message.includes('example host')))
    const prefix = checkEnvironment(deployment({ ...env, MQTT_CLIENT_ID_PREFIX: 'bridge' }), own, {})
    assert.ok(prefix.some((f) => f.level === 'problem' && f.message.startsWith('MQTT_CLIENT_ID_PREFIX: must be a Group ID')))
    const local = checkEnvironment(deployment({ MQTT_URL: 'mqtt://127.0.0.1:1883', FC_ENDPOINT: 'http://127.0.0.1:9000' }), own, {})
    assert.deepEqual(
      local.filter((f) => f.level === 'problem').map((f) => f.message.split(':')[0]),
      ['MQTT_URL', 'FC_ENDPOINT'],
      'left over from npm start: loopback, deployed, is the instance itself',
    )
    const pool = checkEnvironment(deployment({ ...env, MQTT_POOL_SIZE: '0' }), own, {})
    assert.ok(pool.some((f) => f.level === 'problem' && f.message.startsWith('MQTT_POOL_SIZE: must be a whole number')))
  })

  test('a variable set in the shell that s.yaml does not pass on is a warning: it would have no effect', () => {
    const shell = { ...env, MQTT_KEEPALIVE_S: '30' }
    const found = checkEnvironment(deployment(shell), own, shell)
    assert.ok(
      found.some(
        (f) => f.level === 'warning' && f.message.startsWith('MQTT_KEEPALIVE_S is set in this shell, but s.yaml does not pass it'),
      ),
    )
  })
})

describe('region, ACL passwords, triggers', () => {
  test("each rule's regionId against REGION", () => {
    const found = checkRegion(rules(rulesText), 'cn-shanghai')
    assert.ok(found.filter((f) => f.level === 'problem').length >= 4)
    assert.match(found[0]!.message, /rules\[0\] \(device-commands\): source.regionId is cn-hangzhou, but s.yaml deploys to cn-shanghai/)
    assert.deepEqual(levels(checkRegion(rules(rulesText), 'cn-hangzhou')), ['ok'])
  })

  test('an ACL password variable that is not set stops the deploy', () => {
    const withAcl = OWN_RULES.replace(
      '      endpoint: 172.16.3.4:9876',
      '      endpoint: 172.16.3.4:9876\n      acl: { username: bridge, passwordEnv: WAREHOUSE_MQ_PASSWORD }',
    )
    const set = rules(withAcl)
    assert.deepEqual(levels(checkAcl(set, {})), ['problem'])
    assert.match(checkAcl(set, {})[0]!.message, /WAREHOUSE_MQ_PASSWORD, which is not set in this shell/)
    assert.deepEqual(levels(checkAcl(set, { WAREHOUSE_MQ_PASSWORD: 'x' })), ['ok'])
  })

  test("s.yaml's triggers against the rules, as npm run triggers -- --check compares them", () => {
    assert.deepEqual(levels(checkTriggers('s.yaml', sYamlText, 'rules.yaml', rules(rulesText))), ['ok'])
    const drift = checkTriggers('s.yaml', sYamlText, 'rules.yaml', rules(OWN_RULES))
    assert.ok(drift.length > 0 && drift.every((f) => f.level === 'problem' && f.message.endsWith('(run npm run triggers)')))
  })

  test('invalid rules: every error with its path', () => {
    const bad = checkRules('rules.yaml', 'rules: [{id: x}]')
    assert.equal(bad.ruleSet, undefined)
    assert.ok(bad.findings.length > 1 && bad.findings.every((f) => f.level === 'problem' && f.message.startsWith('rules.yaml: rules[0]')))
  })
})

describe('the fc3 schema and the credentials', () => {
  test('without the schema the check is skipped, visibly; props the schema refuses are problems; a failed s preview is one', () => {
    const rendered = { resources: { bridge: { props: { region: 'cn-hangzhou', functionName: 'f', memorySize: 'lots' } } } }
    assert.deepEqual(levels(checkRendered(rendered, '/nowhere/fc3-schema.json')), ['skipped'])
    const schema = join(mkdtempSync(join(tmpdir(), 'schema-')), 'fc3-schema.json')
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { memorySize: { type: 'number' } }, definitions: {} }))
    const found = checkRendered(rendered, schema)
    assert.deepEqual(levels(found), ['problem'])
    assert.match(found[0]!.message, /resources\.bridge\.props: props\/memorySize must be number/)
    assert.match(checkRendered({ error: "env('X') not found" }, schema)[0]!.message, /s preview cannot render s.yaml.*env\('X'\) not found/)
  })

  test("no alias in access.yaml: the `config('AccountID') not found` error named, with its fix; an alias with an AccountID passes", () => {
    const home = mkdtempSync(join(tmpdir(), 'home-'))
    const none = checkCredentials('default', { HOME: home })
    assert.equal(none[0]!.level, 'problem')
    assert.match(none[0]!.message, /config\('AccountID'\) not found.*npx s config add -a default/)
    mkdirSync(join(home, '.s'))
    writeFileSync(join(home, '.s', 'access.yaml'), 'default:\n  AccessKeyID: abc\n  AccessKeySecret: def\n')
    assert.match(checkCredentials('default', { HOME: home })[0]!.message, /has no AccountID/)
    writeFileSync(join(home, '.s', 'access.yaml'), 'default:\n  AccountID: "1880"\n  AccessKeyID: abc\n  AccessKeySecret: s3cr3t-Zq\n')
    assert.deepEqual(levels(checkCredentials('default', { HOME: home })), ['ok'])
    assert.ok(!checkCredentials('default', { HOME: home })[0]!.message.includes('s3cr3t-Zq'), 'no value shown')
    assert.deepEqual(levels(checkCredentials('prod', { HOME: '/nowhere', AccessKeyID: 'a', AccessKeySecret: 'b', AccountID: 'c' })), ['ok'])
  })
})

describe('what it prints', () => {
  test('no secret value: secret variables show as (set), in the summary and everywhere else', () => {
    const secret = 'hunter2-secret-value'
    const env = {
      MQTT_URL: 'mqtt://broker.example.com:1883',
      MQTT_AUTH: 'password',
      MQTT_USERNAME: 'bridge',
      MQTT_PASSWORD: secret,
    }
    const d = deployment(env)
    const set = rules(OWN_RULES)
    const findings = checkEnvironment(d, set, env)
    const { lines, code } = report({ findings, deployment: d, ruleSet: set }, env)
    const text = lines.join('\n')
    assert.equal(code, 0, text)
    assert.match(text, /MQTT_USERNAME=bridge MQTT_PASSWORD=\(set\)/)
    assert.match(text, /trigger rocketmq-device-commands: RocketMQ MQ_INST_1880770869021234_BXaaaaaa device-commands/)
    assert.ok(!text.includes(secret), text)
  })

  test("each rule's delivery deadline beside its trigger: what it counts from and what becomes of an expired message", () => {
    const env = { MQTT_URL: 'mqtt://broker.example.com:1883' }
    const d = deployment(env)
    const set = rules(
      OWN_RULES.replace(
        '      parentTopic: devices\n',
        '      parentTopic: devices\n      deadline: 2m\n      deadlineFrom: userProperties.sentAt\n      onExpired: drop\n',
      ),
    )
    const text = report({ findings: checkEnvironment(d, set, env), deployment: d, ruleSet: set }, env).lines.join('\n')
    assert.match(text, /trigger rocketmq-device-commands: .* -> MQTT devices; deadline 2m from userProperties\.sentAt, then drop$/m)
  })

  test('problems: exit 1, each listed, and the checklist the account needs', () => {
    const d = deployment({})
    const { lines, code } = report({ findings: checkEnvironment(d, rules(rulesText), {}), deployment: d, ruleSet: rules(rulesText) }, {})
    const text = lines.join('\n')
    assert.equal(code, 1)
    assert.match(text, /✗ environment: MQTT_URL: is required/)
    for (const item of [
      'npx s config add -a default',
      'AliyunFCFullAccess',
      'AliyunServiceRoleForEventBridgeSendToFC',
      'fc:InvokeFunction',
      'NAS activated',
    ])
      assert.ok(text.includes(item), item)
    assert.ok(!text.includes('What s deploy will create'), 'no deploy summary with problems')
  })
})
