// npm run preflight with a fleet store: the variables listed (the password only as set), the bridge's VPC
// required, and a loopback FLEET_REDIS_URL caught as MQTT_URL's is (scripts/cli/preflight/fleet-check.ts).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { checkEnvironment } from '../../../scripts/cli/preflight/environment-check.js'
import { checkFleet } from '../../../scripts/cli/preflight/fleet-check.js'
import { report } from '../../../scripts/cli/preflight.js'
import { readDeployment } from '../../../scripts/local/deployment.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const sYamlText = readFileSync(join(root, 's.yaml'), 'utf8')
const deployment = (env: NodeJS.ProcessEnv) => readDeployment(join(root, 's.yaml'), env, '<AccountID>')

const PASSWORD = 'fleet-secret-hunter2'
const env = {
  MQTT_URL: 'mqtt://broker.example.com:1883',
  FLEET_REDIS_URL: 'redis://r-bp1example.redis.rds.aliyuncs.com:6379/0',
  FLEET_REDIS_PASSWORD: PASSWORD,
  DUPLICATE_WINDOW: '12h',
}

/** s.yaml with the bridge's commented vpcConfig filled in. */
const withVpc = sYamlText.replace(
  /# vpcConfig:\n(\s*)# {3}vpcId: vpc-…\n\s*# {3}vSwitchIds: \[vsw-…\]\n\s*# {3}securityGroupId: sg-…/,
  'vpcConfig:\n$1  vpcId: vpc-bp1fleet\n$1  vSwitchIds: [vsw-bp1a, vsw-bp1b]\n$1  securityGroupId: sg-bp1fleet',
)

describe('preflight with a fleet store', () => {
  test('without FLEET_REDIS_URL: nothing about it', () => {
    assert.deepEqual(checkFleet(deployment({ MQTT_URL: env.MQTT_URL }), sYamlText), [])
  })

  test('set: the variables listed with the password as (set); without the bridge`s vpcConfig the deploy stops', () => {
    assert.notEqual(withVpc, sYamlText, "s.yaml's commented vpcConfig block was found")
    const found = checkFleet(deployment(env), sYamlText)
    assert.deepEqual(
      found.map((f) => f.level),
      ['ok', 'problem'],
    )
    assert.match(
      found[0]!.message,
      /FLEET_REDIS_URL=redis:\/\/r-bp1example\.redis\.rds\.aliyuncs\.com:6379\/0 FLEET_REDIS_PASSWORD=\(set\)/,
    )
    assert.match(found[0]!.message, /DUPLICATE_WINDOW=12h/)
    assert.match(found[1]!.message, /no vpcConfig/)
    assert.ok(!JSON.stringify(found).includes(PASSWORD))
  })

  test('with a VPC named: the VPC and vSwitches shown; no password: a warning', () => {
    const found = checkFleet(deployment(env), withVpc)
    assert.deepEqual(
      found.map((f) => f.level),
      ['ok', 'ok'],
    )
    assert.match(found[1]!.message, /VPC vpc-bp1fleet \(vSwitches vsw-bp1a, vsw-bp1b\)/)
    assert.match(found[1]!.message, /a cluster instance in proxy mode needs its parameter script_check_enable set to 0/)
    const open = checkFleet(deployment({ ...env, FLEET_REDIS_PASSWORD: '' }), withVpc)
    assert.ok(open.some((f) => f.level === 'warning' && f.message.startsWith('FLEET_REDIS_PASSWORD is not set')))
  })

  test("a loopback FLEET_REDIS_URL is this machine, not the instance's store; the password never printed", () => {
    const local = { ...env, FLEET_REDIS_URL: 'redis://127.0.0.1:6379' }
    const d = deployment(local)
    const findings = [...checkEnvironment(d, undefined, local), ...checkFleet(d, withVpc)]
    assert.ok(findings.some((f) => f.level === 'problem' && f.message.startsWith('FLEET_REDIS_URL: 127.0.0.1:6379 is this machine')))
    const { lines } = report({ findings, deployment: d }, local)
    assert.ok(!lines.join('\n').includes(PASSWORD))
  })
})
