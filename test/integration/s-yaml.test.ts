// s.yaml as the real Serverless Devs CLI renders it (`s preview -o json`, offline): the fc3 component's
// own schema for every resource's props, and the checks that schema cannot make (it accepts any object
// as a trigger config).

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { PRE_STOP_BUDGET_MS } from '../../functions/bridge/index.js'
import { DEFAULT_DEAD_LETTER_FUNCTION, loadConfig } from '../../shared/config/bridge.js'
import { loadDeadLetterConfig } from '../../shared/config/dead-letter.js'
import { isTimerEvent } from '../../shared/dead-letters/store/timer.js'
import { ConfigError } from '../../shared/errors.js'
import { triggersForRules } from '../../shared/fc/triggers.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)

interface Props extends Record<string, unknown> {
  region: string
  functionName: string
  runtime: string
  code: string
  handler: string
  logConfig: unknown
  environmentVariables?: Record<string, string>
  triggers?: Array<{ triggerName: string; triggerType: string; triggerConfig: Record<string, unknown> }>
  asyncInvokeConfig?: {
    maxAsyncRetryAttempts?: number
    maxAsyncEventAgeInSeconds?: number
    destinationConfig?: { onFailure?: { destination?: string } }
  }
  instanceLifecycleConfig?: { initializer?: { handler?: string; timeout?: number }; preStop?: { handler?: string; timeout?: number } }
}
interface Rendered {
  edition: string
  resources: Record<string, { component: string; props: Props }>
}

/**
 * `s preview -t s.yaml -o json` with a temporary HOME (it writes under $HOME/.s) and only the given
 * environment, so the file's ${env()} defaults are what is checked. Stdout starts with a warning line
 * when run as root: the JSON starts at the first `{`.
 */
async function render(env: Record<string, string> = {}): Promise<Rendered> {
  const home = mkdtempSync(join(tmpdir(), 's-home-'))
  const bin = join(root, 'node_modules/.bin/s')
  const { stdout } = await run(bin, ['preview', '-t', 's.yaml', '-o', 'json'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', HOME: home, ...env },
    // Offline by design; a hang (for example a network attempt) fails the test instead of stalling it.
    timeout: 45000,
    maxBuffer: 16 * 1024 * 1024,
  })
  const start = stdout.indexOf('{')
  assert.ok(start >= 0, `no JSON in s preview output:\n${stdout}`)
  return JSON.parse(stdout.slice(start)) as Rendered
}

function schemaPath(): string {
  return process.env['FC3_SCHEMA'] ?? resolve(root, '../shared/reference/fc3-schema.json')
}

function ruleSet(): RuleSet {
  const r = validateRulesText(readFileSync(join(root, 'rules.yaml'), 'utf8'))
  assert.ok(r.ok, 'rules.yaml must be valid')
  return r.ruleSet
}

const FUNCTIONS = {
  bridge: 'rocketmq-mqtt-bridge',
  'validate-rules': 'rocketmq-mqtt-validate-rules',
  'dead-letter': DEFAULT_DEAD_LETTER_FUNCTION,
} as const

describe('s.yaml rendered by s preview', () => {
  let rendered: Rendered
  const props = (fn: keyof typeof FUNCTIONS): Props => {
    const found = Object.values(rendered.resources).find((r) => r.props.functionName === FUNCTIONS[fn])
    assert.ok(found, `no resource for ${FUNCTIONS[fn]}`)
    return found.props
  }

  before(async () => {
    rendered = await render()
  })

  test("every resource's props are valid against the fc3 component schema, with the bridge's own log project too", async (t) => {
    const path = schemaPath()
    if (!existsSync(path)) {
      t.skip(`fc3 schema not found at ${path}: set FC3_SCHEMA or check out ../shared/reference beside the repository`)
      return
    }
    const withProject = await render({ LOG_PROJECT: 'my-log-project' })
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const ajv = new Ajv({ allErrors: true, strict: false })
    const validate = ajv.compile(schema)
    // The schema lets any object through as a trigger config; hold ours to the EventBridge and HTTP shapes it defines.
    const definitions = schema['definitions'] as Record<string, unknown>
    const eventBridge = ajv.compile({ definitions, $ref: '#/definitions/IEventBridge' })
    const http = ajv.compile({ definitions, $ref: '#/definitions/IHttpTriggerConfig' })
    const timer = ajv.compile({ definitions, $ref: '#/definitions/ITimerTriggerConfig' })
    const checks: Record<string, typeof http> = { eventbridge: eventBridge, http, timer }
    assert.equal(Object.keys(rendered.resources).length, 3)
    const resources = [
      ...Object.entries(rendered.resources),
      ...Object.entries(withProject.resources).map(([n, r]) => [`${n} (LOG_PROJECT set)`, r] as const),
    ]
    for (const [name, resource] of resources) {
      assert.equal(resource.component, 'fc3', name)
      assert.ok(validate(resource.props), `${name}: ${ajv.errorsText(validate.errors)}`)
      for (const trigger of resource.props.triggers ?? []) {
        const check = checks[trigger.triggerType]
        assert.ok(check, `${name}: unexpected trigger type ${trigger.triggerType}`)
        assert.ok(check(trigger.triggerConfig), `${name} ${trigger.triggerName}: ${ajv.errorsText(check.errors)}`)
      }
    }
  })

  test('edition 3.0.0, three nodejs20 functions from dist/, with logs', () => {
    assert.equal(rendered.edition, '3.0.0')
    for (const fn of Object.keys(FUNCTIONS) as Array<keyof typeof FUNCTIONS>) {
      const p = props(fn)
      assert.equal(p.runtime, 'nodejs20')
      assert.equal(p.code, `./dist/${fn}`)
      assert.equal(p.handler, 'index.handler')
      assert.equal(p.logConfig, 'auto')
      assert.equal(p.region, 'cn-hangzhou')
    }
  })

  test("the bridge's request and instance metrics: fc3 turns them on for auto; with LOG_PROJECT they are written out", async () => {
    // `auto` is the only form fc3's schema accepts without a project and logstore; fc3 deploys it with both
    // metrics on (docs/platform-facts.md §7). The explicit form, the one the schema takes the flags in:
    const custom = await render({ LOG_PROJECT: 'my-log-project', LOG_STORE: 'bridge-logs' })
    const bridge = Object.values(custom.resources).find((r) => r.props.functionName === FUNCTIONS.bridge)!.props
    assert.deepEqual(bridge.logConfig, {
      project: 'my-log-project',
      logstore: 'bridge-logs',
      enableRequestMetrics: true,
      enableInstanceMetrics: true,
      logBeginRule: 'DefaultRegex',
    })
  })

  test('the bridge: a preStop hook that closes the pool, with a timeout longer than its own bound', () => {
    const hook = props('bridge').instanceLifecycleConfig?.preStop
    assert.equal(hook?.handler, 'index.preStop')
    assert.ok(typeof hook?.timeout === 'number' && hook.timeout * 1000 > PRE_STOP_BUDGET_MS, `timeout ${hook?.timeout} s`)
    const bundle = createRequire(import.meta.url)(join(root, 'dist/bridge/index.js')) as Record<string, unknown>
    assert.equal(typeof bundle['preStop'], 'function', 'the built bridge exports preStop (npm test builds first)')
  })

  test('every enabled rule has exactly one trigger with its source fields; no disabled rule has one', () => {
    const set = ruleSet()
    const triggers = (props('bridge').triggers ?? []).filter((t) => t.triggerType === 'eventbridge')
    for (const rule of set.rules) {
      const mine = triggers.filter((t) => {
        const p = (t.triggerConfig['eventSourceConfig'] as { eventSourceParameters: { sourceRocketMQParameters: Record<string, unknown> } })
          .eventSourceParameters.sourceRocketMQParameters
        return t.triggerName === `rocketmq-${rule.id}` || p['GroupID'] === rule.source.groupId
      })
      if (!rule.enabled) {
        assert.equal(mine.length, 0, `disabled rule ${rule.id} has a trigger`)
        continue
      }
      assert.equal(mine.length, 1, `rule ${rule.id}: ${mine.length} triggers`)
      const config = mine[0]!.triggerConfig as {
        eventSourceConfig: { eventSourceType: string; eventSourceParameters: { sourceRocketMQParameters: Record<string, unknown> } }
        runOptions: { mode: string }
      }
      assert.equal(config.eventSourceConfig.eventSourceType, 'RocketMQ')
      assert.equal(config.runOptions.mode, 'event-streaming')
      const p = config.eventSourceConfig.eventSourceParameters.sourceRocketMQParameters
      assert.deepEqual(
        { RegionId: p['RegionId'], InstanceId: p['InstanceId'], Topic: p['Topic'], Tag: p['Tag'], GroupID: p['GroupID'] },
        {
          RegionId: rule.source.regionId,
          InstanceId: rule.source.instanceId,
          Topic: rule.source.topic,
          Tag: rule.source.tags,
          GroupID: rule.source.groupId,
        },
      )
      assert.equal(
        p['Offset'],
        rule.source.offset === 'earliest'
          ? 'CONSUME_FROM_FIRST_OFFSET'
          : rule.source.offset === 'latest'
            ? 'CONSUME_FROM_LAST_OFFSET'
            : 'CONSUME_FROM_TIMESTAMP',
      )
    }
    assert.equal(triggers.length, set.rules.filter((r) => r.enabled).length, 'a trigger that no enabled rule accounts for')
    // And, in full, what the shared rules -> triggers mapping gives.
    assert.deepEqual(triggers, JSON.parse(JSON.stringify(triggersForRules(set))))
  })

  test('failed asynchronous invocations go to the dead-letter function', () => {
    const bridge = props('bridge')
    const async = bridge.asyncInvokeConfig
    assert.ok(async, 'bridge has no asyncInvokeConfig')
    assert.ok(typeof async.maxAsyncRetryAttempts === 'number' && async.maxAsyncRetryAttempts >= 0 && async.maxAsyncRetryAttempts <= 8)
    // The account ID stays a placeholder offline; s deploy fills it from the credentials.
    const arn = async.destinationConfig?.onFailure?.destination ?? ''
    const m = /^acs:fc:([a-z0-9-]+):([^:]+):functions\/([A-Za-z0-9_-]+)$/.exec(arn)
    assert.ok(m, `onFailure destination ${JSON.stringify(arn)} is not a function ARN`)
    assert.equal(m[1], bridge.region)
    assert.equal(m[3], DEFAULT_DEAD_LETTER_FUNCTION)
    assert.equal(m[3], props('dead-letter').functionName)
  })

  test('the bridge: initializer, dead letters handed to the dead-letter function, safe defaults', () => {
    const bridge = props('bridge')
    assert.equal(bridge.instanceLifecycleConfig?.initializer?.handler, 'index.initialize')
    const env = bridge.environmentVariables ?? {}
    assert.equal(env['DEAD_LETTER_TARGET'], `fc:${DEFAULT_DEAD_LETTER_FUNCTION}`)
    for (const name of [
      'MQTT_URL',
      'MQTT_PROTOCOL_VERSION',
      'MQTT_AUTH',
      'MQTT_CLIENT_ID_PREFIX',
      'MQTT_POOL_SIZE',
      'MQTT_RATE_LIMIT',
      'MQTT_PUBLISH_TIMEOUT_MS',
      'RULES_FILE',
      'LOG_LEVEL',
    ]) {
      assert.equal(typeof env[name], 'string', `${name} missing`)
    }
    // Undeployable by accident: without MQTT_URL the bridge refuses to start, naming the variable.
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.path === 'MQTT_URL'),
    )
    // With a broker URL, every other default is a value the bridge accepts.
    const config = loadConfig({ ...env, MQTT_URL: 'mqtts://mqtt.example.com:8883', DEAD_LETTER_TARGET: 'file:/tmp/dl' })
    assert.equal(config.protocol, 'auto')
    assert.equal(config.clientIdPrefix, 'GID_bridge')
    assert.equal(config.poolSize, 1)
  })

  test('validate-rules: an HTTP trigger that needs signed requests', () => {
    const triggers = props('validate-rules').triggers ?? []
    assert.equal(triggers.length, 1)
    const http = triggers[0]!
    assert.equal(http.triggerType, 'http')
    assert.equal(http.triggerConfig['authType'], 'function')
    assert.notEqual(http.triggerConfig['authType'], 'anonymous')
    assert.deepEqual(http.triggerConfig['methods'], ['POST'])
  })

  test('dead-letter: a store directory, retention and redrive settings it accepts, and a timer that redrives', () => {
    const dl = props('dead-letter')
    const env = dl.environmentVariables ?? {}
    assert.match(env['DEAD_LETTER_DIR'] ?? '', /^\//)
    const config = loadDeadLetterConfig(env)
    assert.equal(config.retentionDays, 30)
    assert.equal(config.redrive.maxAgeMs, 24 * 3600 * 1000)
    assert.equal(config.redrive.bridgeFunction, FUNCTIONS.bridge, 'redrive invokes the bridge by its name')
    assert.equal(config.redrive.endpoint, undefined)
    assert.equal(dl.triggers?.length, 1)
    const timer = dl.triggers![0]!
    assert.equal(timer.triggerType, 'timer')
    assert.deepEqual(timer.triggerConfig, { cronExpression: '@every 5m', enable: true, payload: 'redrive' })
    // What Function Compute sends on each tick is what the function takes for its timer (docs/operations.md, "Redrive").
    assert.ok(
      isTimerEvent({ triggerTime: '2024-05-01T00:05:00Z', triggerName: timer.triggerName, payload: timer.triggerConfig['payload'] }),
    )
    assert.match(String(dl['role'] ?? ''), /^acs:ram::.*:role\//, 'a role, for the STS credentials redrive invokes with')
    // Invoked asynchronously, it is retried when its store fails: as often and as long as Function Compute allows,
    // and never to a destination of its own (docs/operations.md, "When the store is down").
    assert.deepEqual(dl.asyncInvokeConfig, { maxAsyncRetryAttempts: 8, maxAsyncEventAgeInSeconds: 86400 })
  })

  test("settings come from the deployer's environment", async () => {
    const custom = await render({
      REGION: 'cn-shanghai',
      MQTT_URL: 'mqtts://broker.example.com:8883',
      MQTT_POOL_SIZE: '4',
      DEAD_LETTER_DIR: '/mnt/dead-letters',
    })
    const bridge = Object.values(custom.resources).find((r) => r.props.functionName === FUNCTIONS.bridge)!.props
    assert.equal(bridge.region, 'cn-shanghai')
    assert.equal(bridge.environmentVariables?.['MQTT_URL'], 'mqtts://broker.example.com:8883')
    assert.equal(bridge.environmentVariables?.['MQTT_POOL_SIZE'], '4')
    assert.match(bridge.asyncInvokeConfig?.destinationConfig?.onFailure?.destination ?? '', /^acs:fc:cn-shanghai:/)
    const dl = Object.values(custom.resources).find((r) => r.props.functionName === FUNCTIONS['dead-letter'])!.props
    assert.equal(dl.environmentVariables?.['DEAD_LETTER_DIR'], '/mnt/dead-letters')
  })
})
