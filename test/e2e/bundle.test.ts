// The built bundle, loaded with plain require and invoked with a Buffer the way Function Compute does.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildAll } from '../../scripts/build.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { assertDelivered, makeBatch, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const require = createRequire(import.meta.url)
const work = mkdtempSync(join(tmpdir(), 'bundle-'))
const rulesFile = join(work, 'rules.yaml')
writeFileSync(rulesFile, SCENARIO_RULES)

interface BridgeModule {
  handler(event: Buffer, context: unknown): Promise<{ published: number; received: number; deadLettered: number }>
  initialize(context: unknown): Promise<void>
  shutdown(): Promise<void>
}

let broker: Broker
let sub: Subscriber
const loaded: BridgeModule[] = []

before(async () => {
  // npm test builds dist/ first (pretest); build it here too when run on its own.
  if (!existsSync(join(root, 'dist/bridge/index.js'))) await buildAll({ quiet: true })
  broker = await startMosquitto()
  sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
  process.env['MQTT_URL'] = broker.url
  process.env['DEAD_LETTER_TARGET'] = `file:${join(work, 'dl')}`
})
after(async () => {
  for (const m of loaded) await m.shutdown()
  await sub.close()
  await broker.stop()
})

test('dist/bridge/index.js: the end-to-end case through initialize + handler(Buffer, context)', async () => {
  process.env['RULES_FILE'] = rulesFile
  const bridge = require(join(root, 'dist/bridge/index.js')) as BridgeModule
  loaded.push(bridge)
  assert.equal(typeof bridge.initialize, 'function')
  const { event, expected } = makeBatch(1200, 'BUNDLE-')
  await bridge.initialize(fcContext('init'))
  const summary = await bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-bundle'))
  assert.deepEqual([summary.received, summary.published, summary.deadLettered], [1200, 1200, 0])
  await sub.waitFor(1200)
  await new Promise((r) => setTimeout(r, 200))
  assertDelivered(expected, sub.messages, 5)
  delete process.env['RULES_FILE']
})

test('the build inlines the validated rules: a bundle serves them with no RULES_FILE and no rules.yaml beside it', async () => {
  sub.messages.length = 0
  const out = join(work, 'dist')
  await buildAll({ rulesFile, outDir: out, quiet: true })
  const text = readFileSync(join(out, 'bridge/index.js'), 'utf8')
  assert.ok(text.includes('GID_test_telemetry'), 'rules are inside the bundle')
  assert.ok(!existsSync(join(out, 'bridge/rules.yaml')))
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'bridge/package.json'), 'utf8')), { type: 'commonjs' })
  const bridge = require(join(out, 'bridge/index.js')) as BridgeModule
  loaded.push(bridge)
  const { event, expected } = makeBatch(90, 'INLINE-')
  const summary = await bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-inline'))
  assert.equal(summary.published, 90)
  await sub.waitFor(90)
  assertDelivered(expected, sub.messages, 5)
})

test('invalid rules fail the build, naming each error', async () => {
  const bad = join(work, 'bad.yaml')
  writeFileSync(bad, 'rules:\n  - id: "!"\n')
  await assert.rejects(buildAll({ rulesFile: bad, outDir: join(work, 'bad-dist'), quiet: true }), (err: Error) => {
    assert.match(err.message, /bad\.yaml: rules\[0\]\.id: must be 3-64 characters/)
    assert.match(err.message, /rules\[0\]\.source: is required/)
    return true
  })
})
