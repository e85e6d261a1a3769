// The real handler module (functions/bridge/index.ts) as Function Compute calls it: configuration from
// the environment, a module-scope pool, initialize then handler.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { handler, initialize, shutdown } from '../../functions/bridge/index.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { assertDelivered, makeBatch, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const dir = mkdtempSync(join(tmpdir(), 'handler-'))
const rulesFile = join(dir, 'rules.yaml')
writeFileSync(rulesFile, SCENARIO_RULES)
let broker: Broker
let sub: Subscriber

function setEnv(env: Record<string, string | undefined>): void {
  for (const k of [
    'MQTT_URL',
    'RULES_FILE',
    'DEAD_LETTER_TARGET',
    'MQTT_POOL_SIZE',
    'MQTT_CLIENT_ID_PREFIX',
    'MQTT_PROTOCOL_VERSION',
    'MQTT_PUBLISH_TIMEOUT_MS',
  ])
    delete process.env[k]
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v
}

describe('the bridge handler on Mosquitto', needsMosquitto(), () => {
  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
  })
  after(async () => {
    await shutdown()
    await sub.close()
    await broker.stop()
  })

  test('two warm invocations with MQTT_POOL_SIZE=1 open exactly one connection, counted at the broker', async () => {
    setEnv({
      MQTT_URL: broker.url,
      RULES_FILE: rulesFile,
      DEAD_LETTER_TARGET: `file:${dir}/dl`,
      MQTT_POOL_SIZE: '1',
      MQTT_CLIENT_ID_PREFIX: 'GID_warm',
    })
    const a = makeBatch(150, 'WARM-A-')
    const b = makeBatch(150, 'WARM-B-')
    await initialize(fcContext('init'))
    const first = await handler(Buffer.from(JSON.stringify(a.event)), fcContext('req-1'))
    const second = await handler(Buffer.from(JSON.stringify(b.event)), fcContext('req-2'))
    assert.equal(first.published, 150)
    assert.equal(second.published, 150)
    await sub.waitFor(300)
    assertDelivered([...a.expected, ...b.expected], sub.messages, 5)
    assert.equal(broker.connectionsFrom('GID_warm@@@'), 1, `broker log:\n${broker.log()}`)
    await shutdown()
  })

  test('a pool of 3 opens 3 connections with distinct client IDs <prefix>@@@<unique>', async () => {
    setEnv({
      MQTT_URL: broker.url,
      RULES_FILE: rulesFile,
      DEAD_LETTER_TARGET: `file:${dir}/dl`,
      MQTT_POOL_SIZE: '3',
      MQTT_CLIENT_ID_PREFIX: 'GID_pool3',
    })
    sub.messages.length = 0
    const batch = makeBatch(300, 'POOL-')
    const summary = await handler(batch.event, fcContext('req-pool'))
    assert.equal(summary.published, 300)
    await sub.waitFor(300)
    assertDelivered(batch.expected, sub.messages, 5)
    const ids = broker
      .log()
      .split('\n')
      .filter((l) => l.includes('New client connected') && l.includes(' as GID_pool3@@@'))
      .map((l) => / as (\S+) /.exec(l)![1])
    assert.equal(ids.length, 3)
    assert.equal(new Set(ids).size, 3)
    for (const id of ids) assert.match(id!, /^GID_pool3@@@[a-z0-9]{10}[0-9]$/)
    await shutdown()
  })

  test('invalid rules stop the bridge at cold start, listing every error', async () => {
    const bad = join(dir, 'bad-rules.yaml')
    writeFileSync(
      bad,
      `
rules:
  - id: x
    source: { regionId: cn-hangzhou, instanceId: I, topic: T, groupId: GID_aaa }
    target: { parentTopic: "a+b" }
  - id: ok-rule
    source: { regionId: cn-hangzhou, instanceId: I, topic: T2, groupId: GID_aaa }
    target: { parentTopic: fine, qos: 5 }
`,
    )
    setEnv({ MQTT_URL: broker.url, RULES_FILE: bad, DEAD_LETTER_TARGET: `file:${dir}/dl` })
    for (const call of [() => initialize(fcContext('init')), () => handler([], fcContext('req'))]) {
      await assert.rejects(call(), (err: Error) => {
        assert.equal(err.name, 'RulesError')
        assert.match(err.message, new RegExp(`invalid rules in RULES_FILE=${bad.replace(/[.]/g, '\\.')} \\(4 errors\\)`))
        assert.match(err.message, /rules\[0\]\.id: must be 3-64 characters/)
        assert.match(err.message, /rules\[0\]\.target\.parentTopic: contains a wildcard/)
        assert.match(err.message, /rules\[1\]\.target\.qos: must be 0, 1 or 2/)
        assert.match(err.message, /rules\[1\]\.source\.groupId: duplicate groupId "GID_aaa"/)
        return true
      })
    }
  })

  test('a bad environment variable stops the bridge at cold start, naming the variable', async () => {
    setEnv({ MQTT_URL: broker.url, RULES_FILE: rulesFile, MQTT_POOL_SIZE: 'many' })
    await assert.rejects(handler([], fcContext('req')), /MQTT_POOL_SIZE: must be a whole number from 1 to 64/)
    setEnv({ MQTT_URL: 'http://example', RULES_FILE: rulesFile })
    await assert.rejects(handler([], fcContext('req')), /MQTT_URL: must use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/, not http:\/\//)
    setEnv({ RULES_FILE: join(dir, 'missing.yaml'), MQTT_URL: broker.url })
    await assert.rejects(handler([], fcContext('req')), /RULES_FILE: cannot read .*missing\.yaml: ENOENT/)
  })
})
