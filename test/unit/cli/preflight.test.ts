// `npm run preflight`, check by check: sample IDs, the bridge's settings with its own schema, region, ACL
// passwords, triggers, the fc3 schema, the Serverless Devs credentials; and no secret in what it prints.

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { checkEnvironment } from '../../../scripts/cli/preflight/environment-check.js'
import type { Finding } from '../../../scripts/cli/preflight/finding.js'
import { checklist, deploymentSummary } from '../../../scripts/cli/preflight/report.js'
import {
  checkAcl,
  checkRegion,
  checkRules,
  checkSamples,
  checkTriggers,
  triggersSkipped,
} from '../../../scripts/cli/preflight/rules-checks.js'
import { checkRendered } from '../../../scripts/cli/preflight/s-yaml-check.js'
import { checkComponents, checkCredentials, serverlessDevsRoot } from '../../../scripts/cli/preflight/serverless-devs.js'
import { preflight, report } from '../../../scripts/cli/preflight.js'
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

describe('placeholders by their shape, not only the repository sample IDs', () => {
  const withInstance = (id: string, group = 'GID_bridge_commands_prod') =>
    rules(OWN_RULES.replace('MQ_INST_1880770869021234_BXaaaaaa', id).replace('GID_bridge_commands_prod', group))

  test("the docs' own placeholders and the usual stand-ins are refused, each named with why", () => {
    for (const [id, why] of [
      ['MQ_INST_123_abc', /is not an instance ID as the RocketMQ console shows one/],
      ['MQ_INST_xxxxxxxxxxxx_PLACEHOLDER', /has "xxx" in it/],
      ['MQ_INST_1234567890123456_abcdefgh', /sequential digits/],
    ] as const) {
      const found = checkSamples(withInstance(id)).filter((f) => f.level === 'problem')
      assert.equal(found.length, 1, `${id}: ${JSON.stringify(found)}`)
      assert.match(found[0]!.message, new RegExp(`^rules\\[0\\] \\(device-commands\\): source\\.instanceId "${id}" `))
      assert.match(found[0]!.message, why)
    }
    // As the validator's own rule allows (GID_ for 4.x), and as invalid rules' sources are read (rawSources).
    for (const [group, why] of [
      ['GID_your_group', /says "your…"/],
      ['<group id>', /has <…>/],
      ['GID_xxx', /has "xxx"/],
      ['GID_example', /says example/],
    ] as const) {
      const source = { regionId: 'cn-hangzhou', instanceId: 'MQ_INST_1880770869021234_BXaaaaaa', groupId: group }
      const found = checkSamples([{ i: 0, id: 'r', enabled: true, source }]).filter((f) => f.level === 'problem')
      assert.equal(found.length, 1, group)
      assert.match(found[0]!.message, /source\.groupId/)
      assert.match(found[0]!.message, why)
    }
  })

  test('real-looking IDs pass; the same shapes in a disabled rule are a warning', () => {
    assert.deepEqual(levels(checkSamples(rules(OWN_RULES))), ['ok'])
    const disabled = rules(OWN_RULES.replace('groupId: GID_bridge_firmware_prod', 'groupId: GID_xxxx'))
    assert.deepEqual(
      checkSamples(disabled).map((f) => [f.level, /firmware-blobs/.test(f.message)]),
      [['warning', true]],
    )
  })

  test('MQTT_URL, MQTT_INSTANCE_ID and MQTT_USERNAME with stand-ins are problems', () => {
    const env = {
      MQTT_URL: 'mqtts://post-cn-xxxxxxxx.mqtt.aliyuncs.com:8883',
      MQTT_AUTH: 'password',
      MQTT_USERNAME: '<username>',
      MQTT_PASSWORD: 'p',
    }
    const found = checkEnvironment(deployment(env), rules(OWN_RULES), env).filter((f) => f.level === 'problem')
    assert.ok(
      found.some((f) => /^MQTT_URL: post-cn-xxxxxxxx\.mqtt\.aliyuncs\.com has "xxx"/.test(f.message)),
      JSON.stringify(found),
    )
    assert.ok(
      found.some((f) => /^MQTT_USERNAME: "<username>" has <…>/.test(f.message)),
      JSON.stringify(found),
    )
  })
})

describe('invalid rules hide nothing', () => {
  test('the sources of invalid rules are still checked for samples and ACL passwords; the triggers say they were not compared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-invalid-'))
    const bad = OWN_RULES.replace('MQ_INST_1880770869021234_BXaaaaaa', 'MQ_INST_123_abc').replace(
      'parentTopic: devices',
      'parentTopic: "devices/+"',
    )
    assert.ok(!validateRulesText(bad).ok)
    writeFileSync(join(dir, 'rules.yaml'), bad)
    const result = await preflight({ rulesPath: join(dir, 'rules.yaml'), sYamlPath: join(dir, 'missing-s.yaml'), env: {} })
    const problems = result.findings.filter((f) => f.level === 'problem')
    assert.ok(
      problems.some((f) => f.check === 'rules' && /parentTopic/.test(f.message)),
      JSON.stringify(problems),
    )
    assert.ok(
      problems.some((f) => f.check === 'sample IDs' && /MQ_INST_123_abc/.test(f.message)),
      JSON.stringify(problems),
    )
    assert.ok(problems.some((f) => f.check === 'files' && /missing-s\.yaml/.test(f.message)))
  })

  test('with s.yaml: the triggers check says it is skipped until the rules are valid', () => {
    assert.equal(triggersSkipped('rules.yaml').level, 'skipped')
    assert.match(triggersSkipped('rules.yaml').message, /not compared with rules\.yaml until the rules are valid/)
  })
})

describe('the checklist: every parent topic of the rule model, every role, [x] where verified', () => {
  const routedText = readFileSync(join(root, 'test/fixtures/routed-rules.yaml'), 'utf8').replaceAll(
    'MQ_INST_1234567890123456_BXhFHryi',
    'MQ_INST_1880770869021234_BXaaaaaa',
  )
  const routed = validateRulesText(routedText)
  assert.ok(routed.ok)

  test("the parent topics to create are the model's, routes' included, each with what publishes to it", () => {
    const env = {
      MQTT_URL: 'mqtts://post-cn-abcd1234.mqtt.aliyuncs.com:8883',
      MQTT_AUTH: 'signature',
      MQTT_INSTANCE_ID: 'post-cn-abcd1234',
    }
    const d = deployment(env)
    const text = checklist(d, routed.ruleSet, env, [], routed.model).join('\n')
    assert.match(
      text,
      /\[ \] ApsaraMQ for MQTT post-cn-abcd1234: the parent topics alarms \(plant routes\[0\]\), plant \(plant routes\[1\], plant target\), orders \(orders routes\[0\]\) created; Group ID GID_bridge created/,
    )
    const summary = deploymentSummary(d, routed.ruleSet, routed.model).join('\n')
    assert.match(summary, /trigger rocketmq-plant: .* -> MQTT plant, alarms$/m)
    assert.match(summary, /trigger rocketmq-orders: .* -> MQTT orders$/m)
  })

  test("another broker: the bridge's user allowed to publish under every parent topic, and what a refusal of them all does", () => {
    const env = { MQTT_URL: 'mqtts://broker.example.com:8883' }
    const mqttRules = validateRulesText(`defaults: { profile: mqtt }\n${routedText}`)
    assert.ok(mqttRules.ok && mqttRules.ruleSet.profile === 'mqtt')
    const text = checklist(deployment(env), mqttRules.ruleSet, env, [], mqttRules.model).join('\n')
    assert.match(text, /\[ \] your MQTT broker: the bridge's user allowed to publish under alarms\/#, plant\/#, orders\/# /)
    assert.match(text, /refuses them all, 0x87, fails every invocation as transient: docs\/reliability\.md/)
  })

  test("every role's permissions: the dead-letter function's fc:InvokeFunction on the bridge (redrive), the bridge's on the dead-letter function", () => {
    const text = checklist(deployment({}), undefined, { DEAD_LETTER_ROLE_ARN: 'acs:ram::1:role/dl' }).join('\n')
    assert.match(
      text,
      /\[ \] the dead-letter function's role \(acs:ram::1:role\/dl\): fc:InvokeFunction on rocketmq-mqtt-bridge \(its timer's redrive/,
    )
    assert.match(
      text,
      /\[ \] the bridge's role \(aliyunfcdefaultrole, or BRIDGE_ROLE_ARN\): fc:InvokeFunction on rocketmq-mqtt-dead-letter/,
    )
    assert.match(text, /\[ \] the RAM user of npm run smoke .*: fc:InvokeFunction on rocketmq-mqtt-bridge/)
  })

  test('[x] only where the check ran and found nothing wrong', () => {
    const d = deployment({})
    const tick = (findings: Finding[]) =>
      checklist(d, undefined, {}, findings).filter((l) => /credentials under the alias|fc3 component|dist\/ built/.test(l))
    assert.deepEqual(
      tick([
        { level: 'ok', check: 'credentials', message: '' },
        { level: 'ok', check: 'fc3 component', message: '' },
        { level: 'problem', check: 'build', message: '' },
      ]).map((l) => l.slice(0, 3)),
      ['[x]', '[x]', '[ ]'],
    )
    assert.deepEqual(
      tick([{ level: 'warning', check: 'fc3 component', message: '' }]).map((l) => l.slice(0, 3)),
      ['[ ]', '[ ]', '[ ]'],
    )
  })
})

describe('the fc3 component in Serverless Devs cache', () => {
  const cache = (home: string, root = join(home, '.s')) => {
    const dir = join(root, 'components', 'devsapp.cn', 'v3', 'fc3')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, '.s.lock'), JSON.stringify({ version: '0.1.9', lastUpdateCheck: 1 }))
  }

  test('cached under ~/.s/components/devsapp.cn/v3/fc3 (with its .s.lock): ok, with its version', () => {
    const home = mkdtempSync(join(tmpdir(), 'preflight-s-home-'))
    cache(home)
    const found = checkComponents(sYamlText, { HOME: home })
    assert.deepEqual(levels(found), ['ok'])
    assert.match(found[0]!.message, /^fc3 0\.1\.9 is cached in .*\.s\/components\/devsapp\.cn\/v3\/fc3/)
  })

  test("not cached: a warning that the first s deploy fetches it from Serverless Devs' registry, and how to get past a proxy", () => {
    const home = mkdtempSync(join(tmpdir(), 'preflight-s-home-'))
    const [plain] = checkComponents(sYamlText, { HOME: home })
    assert.equal(plain!.level, 'warning')
    assert.match(
      plain!.message,
      /fc3 is not cached in .*: the first s deploy downloads it from Serverless Devs' registry \(https:\/\/api\.devsapp\.cn\/v3, not npm\)/,
    )
    assert.match(plain!.message, /bare ENOTFOUND: run `npx s set proxy --enable --https_proxy <proxy URL>`/)
    const [proxied] = checkComponents(sYamlText, { HOME: home, HTTPS_PROXY: 'http://proxy:3128' })
    assert.match(proxied!.message, /HTTPS_PROXY is set in this shell, but s ignores it/)
    mkdirSync(join(home, '.s'), { recursive: true })
    writeFileSync(
      join(home, '.s', 'set-config.yml'),
      'proxy_enable: true\nhttps_proxy: http://proxy:3128\nregistry: https://mirror.internal/v3\n',
    )
    const [set] = checkComponents(sYamlText, { HOME: home })
    assert.match(set!.message, /\(https:\/\/mirror\.internal\/v3, not npm\).*s is set to go through the proxy/)
  })

  test('where s keeps it: serverless_devs_config_home, and a workspace in .s/config/s.json', () => {
    const other = mkdtempSync(join(tmpdir(), 'preflight-s-config-'))
    cache(other)
    assert.deepEqual(levels(checkComponents(sYamlText, { HOME: '/nowhere', serverless_devs_config_home: other })), ['ok'])
    const home = mkdtempSync(join(tmpdir(), 'preflight-s-home-'))
    const workspace = join(home, 'ws')
    mkdirSync(join(home, '.s', 'config'), { recursive: true })
    writeFileSync(join(home, '.s', 'config', 's.json'), JSON.stringify({ workspace: '~/ws' }))
    assert.equal(serverlessDevsRoot({ HOME: home }), workspace)
    cache(home, workspace)
    assert.deepEqual(levels(checkComponents(sYamlText, { HOME: home })), ['ok'])
  })
})
