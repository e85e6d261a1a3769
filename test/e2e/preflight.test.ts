// `npm run preflight` as an operator runs it before `s deploy`, with the real `s preview`: on the
// repository as cloned (samples left in, no MQTT_URL, no credentials: exit 1, every problem listed), and on
// a project made ready (exit 0, what will be deployed, no secret printed).

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildAll } from '../../scripts/build.js'
import { syncTriggers } from '../../scripts/cli/triggers.js'
import { validateRulesText } from '../../shared/rules/validate.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const SECRET = 'hunter2-secret-for-preflight'
const realSchema = resolve(root, '../shared/reference/fc3-schema.json')

/** The command on the project in `dir` (its s.yaml and rules.yaml), run from the repository as npm would. */
function preflight(dir: string, env: Record<string, string>): { status: number | null; out: string } {
  const args = ['--rules', join(dir, 'rules.yaml'), '--s-yaml', join(dir, 's.yaml')]
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/cli/preflight.ts'), ...args], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
    timeout: 90_000,
  })
  return { status: r.status, out: r.stdout + r.stderr }
}

/** A project ready to deploy: its own IDs in rules.yaml, s.yaml's triggers rewritten for them, dist/ built, credentials. */
function readyProject(rulesText = readFileSync(join(root, 'rules.yaml'), 'utf8')): { dir: string; home: string } {
  const dir = mkdtempSync(join(tmpdir(), 'preflight-'))
  const rules = rulesText
    .replaceAll('MQ_INST_1234567890123456_BXhFHryi', 'MQ_INST_1880770869021234_BXaaaaaa')
    .replaceAll('rmq-cn-jte3w5i0a01', 'rmq-cn-abcd1234ef5')
    .replaceAll('10.0.0.8:9876', '172.16.3.4:9876')
    .replace(/groupId: (\S+)/g, 'groupId: $1_prod')
  const set = validateRulesText(rules)
  assert.ok(set.ok)
  writeFileSync(join(dir, 'rules.yaml'), rules)
  writeFileSync(join(dir, 's.yaml'), syncTriggers(readFileSync(join(root, 's.yaml'), 'utf8'), set.ruleSet).text)
  symlinkSync(join(root, 'dist'), join(dir, 'dist'), 'dir')
  // As if dist/ had been built after these rules were written.
  const past = new Date(Date.now() - 24 * 3600_000)
  utimesSync(join(dir, 'rules.yaml'), past, past)
  const home = mkdtempSync(join(tmpdir(), 'preflight-home-'))
  mkdirSync(join(home, '.s'))
  writeFileSync(
    join(home, '.s', 'access.yaml'),
    'default:\n  AccountID: "1880770869021234"\n  AccessKeyID: LTAIexample\n  AccessKeySecret: access-secret-xyz\n',
  )
  return { dir, home }
}

before(async () => {
  if (!existsSync(join(root, 'dist/bridge/index.js'))) await buildAll({ quiet: true })
})

describe('npm run preflight', () => {
  test('on the repository as cloned: exit 1, the samples, MQTT_URL and the credentials listed; no secret printed', () => {
    const home = mkdtempSync(join(tmpdir(), 'preflight-home-'))
    const r = preflight(root, { HOME: home, MQTT_AUTH: 'password', MQTT_USERNAME: 'bridge', MQTT_PASSWORD: SECRET })
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /✗ sample IDs: rules\[0\] \(device-commands\): source\.instanceId "MQ_INST_1234567890123456_BXhFHryi" is a sample/)
    assert.match(r.out, /✗ environment: MQTT_URL: is required/)
    assert.match(r.out, /✗ credentials: .*config\('AccountID'\) not found/)
    assert.match(r.out, /! s preview: `s preview` prints every environment value, secrets included/)
    assert.match(r.out, /Before the first deploy/)
    assert.match(r.out, /\d+ problems \(✗ above\)/)
    assert.ok(!r.out.includes(SECRET), 'the password is never printed')
  })

  test('on a project made ready: exit 0 and what will be deployed, secrets as (set)', () => {
    const { dir, home } = readyProject()
    const env = {
      HOME: home,
      REGION: 'cn-hangzhou',
      MQTT_URL: 'mqtts://post-cn-abcd1234.mqtt.aliyuncs.com:8883',
      MQTT_AUTH: 'password',
      MQTT_USERNAME: 'bridge',
      MQTT_PASSWORD: SECRET,
      ...(existsSync(realSchema) ? { FC3_SCHEMA: realSchema } : {}),
    }
    const r = preflight(dir, env)
    assert.equal(r.status, 0, r.out)
    assert.ok(!r.out.includes('✗'), r.out)
    assert.match(r.out, existsSync(realSchema) ? /✓ fc3 schema: s.yaml as s preview renders it is valid/ : /- fc3 schema: .* is not at/)
    assert.match(r.out, /What s deploy will create or update \(region cn-hangzhou, credentials alias "default"\)/)
    assert.match(
      r.out,
      /trigger rocketmq-home-lamps: RocketMQ MQ_INST_1880770869021234_BXaaaaaa TopicName \(tags TagA\|\|TagB, group GID_bridge_home_prod\) -> MQTT home/,
    )
    assert.match(r.out, /MQTT_PASSWORD=\(set\)/)
    assert.match(r.out, /Next: npx s deploy -t s.yaml, then npm run smoke -- --rule device-commands/)
    assert.ok(!r.out.includes(SECRET) && !r.out.includes('access-secret-xyz'), 'no secret printed')
  })

  test('without the fc3 schema, that one check is skipped and says so; the rest still decide', () => {
    const { dir, home } = readyProject()
    const r = preflight(dir, { HOME: home, MQTT_URL: 'mqtt://broker.example.com:1883', FC3_SCHEMA: join(dir, 'no-such-schema.json') })
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /- fc3 schema: the fc3 component's schema is not at .*no-such-schema\.json; set FC3_SCHEMA/)
  })

  test("routed rules: the parent topics to create are every one the rules publish to, routes' included; the trigger names them; [x] what was verified", () => {
    const { dir, home } = readyProject(readFileSync(join(root, 'test/fixtures/routed-rules.yaml'), 'utf8'))
    // The fc3 component as s leaves it after its first download.
    const component = join(home, '.s', 'components', 'devsapp.cn', 'v3', 'fc3')
    mkdirSync(component, { recursive: true })
    writeFileSync(join(component, '.s.lock'), JSON.stringify({ version: '0.1.9', lastUpdateCheck: Date.now() }))
    const env = {
      HOME: home,
      MQTT_URL: 'mqtts://post-cn-abcd1234.mqtt.aliyuncs.com:8883',
      MQTT_AUTH: 'signature',
      MQTT_INSTANCE_ID: 'post-cn-abcd1234',
      MQTT_ACCESS_KEY_ID: 'LTAIbridge',
      MQTT_ACCESS_KEY_SECRET: SECRET,
      FC3_SCHEMA: join(dir, 'no-such-schema.json'),
    }
    const r = preflight(dir, env)
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /✓ fc3 component: fc3 0\.1\.9 is cached in /)
    assert.match(r.out, /\[x\] Serverless Devs credentials under the alias "default"/)
    assert.match(r.out, /\[x\] the Serverless Devs fc3 component/)
    assert.match(r.out, /\[x\] s\.yaml's triggers written from the rules/)
    assert.match(r.out, /\[ \] the dead-letter function's role .*: fc:InvokeFunction on rocketmq-mqtt-bridge/)
    assert.match(
      r.out,
      /\[ \] ApsaraMQ for MQTT post-cn-abcd1234: the parent topics alarms \(plant routes\[0\]\), plant \(plant routes\[1\], plant target\), orders \(orders routes\[0\]\) created/,
    )
    assert.match(
      r.out,
      /trigger rocketmq-plant: RocketMQ \S+ plant-events \(tags Alarm\|\|Status, group GID_plant_events_prod\) -> MQTT plant, alarms\n/,
    )
    assert.ok(!r.out.includes(SECRET), 'no secret printed')
    // The description s.yaml got from npm run triggers names them too.
    assert.match(
      readFileSync(join(dir, 's.yaml'), 'utf8'),
      /description: "?rule plant: RocketMQ plant-events \(tags Alarm\|\|Status\) -> MQTT plant, alarms"?\n/,
    )
  })

  test("the docs' placeholder instance ID and a stand-in group are refused, with every other problem at once", () => {
    const text = readFileSync(join(root, 'test/fixtures/routed-rules.yaml'), 'utf8')
      .replace('MQ_INST_1234567890123456_BXhFHryi', 'MQ_INST_123_abc')
      .replace('GID_orders_routed', 'GID_xxxxxxxx')
    const dir = mkdtempSync(join(tmpdir(), 'preflight-placeholders-'))
    writeFileSync(join(dir, 'rules.yaml'), text)
    writeFileSync(join(dir, 's.yaml'), readFileSync(join(root, 's.yaml'), 'utf8'))
    const r = preflight(dir, { HOME: mkdtempSync(join(tmpdir(), 'preflight-home-')), FC3_SCHEMA: join(dir, 'none.json') })
    assert.equal(r.status, 1, r.out)
    assert.match(
      r.out,
      /✗ sample IDs: rules\[0\] \(plant\): source\.instanceId "MQ_INST_123_abc" is not an instance ID as the RocketMQ console shows one/,
    )
    assert.match(r.out, /✗ sample IDs: rules\[1\] \(orders\): source\.instanceId "MQ_INST_1234567890123456_BXhFHryi" is a sample/)
    assert.match(r.out, /✗ sample IDs: rules\[1\] \(orders\): source\.groupId "GID_xxxxxxxx" has "xxx" in it/)
    assert.match(r.out, /✗ triggers: .* disagrees with /)
    assert.match(r.out, /✗ environment: MQTT_URL: is required/)
    assert.match(r.out, /✗ credentials: /)
    assert.match(r.out, /! fc3 component: fc3 is not cached in .*: the first s deploy downloads it from Serverless Devs' registry/)
  })

  test('--help', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/cli/preflight.ts'), '--help'], { encoding: 'utf8' })
    assert.equal(help.status, 0)
    assert.match(help.stdout, /^usage: npm run preflight/)
  })
})
