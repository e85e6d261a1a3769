// The built bundle, loaded with plain require and invoked with a Buffer the way Function Compute does.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildAll } from '../../scripts/build.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { barrier, viaBridge, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
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

/** Waits until everything `bridge` sent on these topics and QoS levels has reached the subscriber (helpers/barrier.ts). */
const settle = (bridge: BridgeModule, lanes: Array<{ topic: string; qos: number }>) =>
  barrier(
    viaBridge((event) => bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-barrier'))),
    [sub],
    lanes,
  )

describe('the built bridge bundle on Mosquitto', needsMosquitto(), () => {
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
    await settle(bridge, expected)
    assertDelivered(expected, withoutSentinels(sub.messages), 5)
    delete process.env['RULES_FILE']
  })

  test('the build inlines the validated rules: a bundle serves them with no RULES_FILE and no rules.yaml beside it', async () => {
    sub.messages.length = 0
    const out = join(work, 'dist')
    await buildAll({ rulesFile, outDir: out, quiet: true })
    // index.js is the loader; the bundle beside it (scripts/code-cache.ts) holds the rules.
    const text = readFileSync(join(out, 'bridge/bundle.js'), 'utf8')
    assert.ok(text.includes('GID_test_telemetry'), 'rules are inside the bundle')
    assert.ok(!existsSync(join(out, 'bridge/rules.yaml')))
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'bridge/package.json'), 'utf8')), { type: 'commonjs' })
    const bridge = require(join(out, 'bridge/index.js')) as BridgeModule
    loaded.push(bridge)
    const { event, expected } = makeBatch(90, 'INLINE-')
    const summary = await bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-inline'))
    assert.equal(summary.published, 90)
    await settle(bridge, expected)
    assertDelivered(expected, withoutSentinels(sub.messages), 5)
    // The bundled rules are JSON and the URL is mqtt://: the YAML and WebSocket libraries beside the bundle are never loaded.
    for (const beside of ['yaml.js', 'ws.js']) {
      assert.ok(existsSync(join(out, 'bridge', beside)), beside)
      assert.equal(require.cache[join(out, 'bridge', beside)], undefined, `${beside} was required`)
    }
  })

  test('each function loads through its V8 code cache, and V8 accepts the cache the build made', () => {
    const out = join(work, 'dist')
    for (const fn of ['bridge', 'dead-letter', 'validate-rules']) {
      // The loader's vm.Script, watched: did it get the cache, and did V8 take it (a refused one means a compile).
      const script = `const vm = require('node:vm'); const S = vm.Script; let seen
vm.Script = class extends S { constructor(c, o) { super(c, o); seen = { cached: o.cachedData !== undefined, rejected: this.cachedDataRejected } } }
const m = require(${JSON.stringify(join(out, fn, 'index.js'))}); console.log(JSON.stringify({ ...seen, exports: Object.keys(m) }))`
      const r = spawnSync(process.execPath, ['-e', script], { cwd: tmpdir(), encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      const seen = JSON.parse(r.stdout) as { cached: boolean; rejected: boolean; exports: string[] }
      assert.deepEqual([fn, seen.cached, seen.rejected], [fn, true, false])
      assert.ok(seen.exports.includes('handler'), `${fn}: ${seen.exports.join(', ')}`)
    }
  })

  test('MQTT_URL=ws://: the bundle loads the WebSocket library beside it on first use, and delivers through it', async () => {
    const wsBroker = await startMosquitto({ websockets: true })
    const wsSub = await subscribe(wsBroker.url, SUBSCRIPTIONS, 5)
    const out = join(work, 'dist-ws')
    await buildAll({ rulesFile, outDir: out, quiet: true })
    process.env['MQTT_URL'] = wsBroker.wsUrl!
    try {
      const bridge = require(join(out, 'bridge/index.js')) as BridgeModule
      loaded.push(bridge)
      assert.equal(require.cache[join(out, 'bridge/ws.js')], undefined, 'not at load')
      const { event, expected } = makeBatch(60, 'WS-')
      const summary = await bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-ws'))
      assert.equal(summary.published, 60)
      assert.ok(require.cache[join(out, 'bridge/ws.js')], 'ws.js was required')
      await barrier(
        viaBridge((e) => bridge.handler(Buffer.from(JSON.stringify(e)), fcContext('req-ws-barrier'))),
        [wsSub],
        expected,
      )
      assertDelivered(expected, withoutSentinels(wsSub.messages), 5)
    } finally {
      process.env['MQTT_URL'] = broker.url
      await wsSub.close()
      // The bundle's pool on this broker is closed by after(); stop the broker after it.
      after(() => wsBroker.stop())
    }
  })

  test('RULES_FILE in YAML: the bundle loads the YAML library beside it on first use, and serves those rules', async () => {
    sub.messages.length = 0
    const out = join(work, 'dist-yaml')
    await buildAll({ rulesFile, outDir: out, quiet: true })
    process.env['RULES_FILE'] = rulesFile
    try {
      const bridge = require(join(out, 'bridge/index.js')) as BridgeModule
      loaded.push(bridge)
      const { event, expected } = makeBatch(30, 'YAML-')
      const summary = await bridge.handler(Buffer.from(JSON.stringify(event)), fcContext('req-yaml'))
      assert.equal(summary.published, 30)
      assert.ok(require.cache[join(out, 'bridge/yaml.js')], 'yaml.js was required')
      await settle(bridge, expected)
      assertDelivered(expected, withoutSentinels(sub.messages), 5)
    } finally {
      delete process.env['RULES_FILE']
    }
  })
})

test('invalid rules fail the build before esbuild: each error once, no esbuild frames, the previous dist/ untouched', async () => {
  const bad = join(work, 'bad.yaml')
  writeFileSync(
    bad,
    [
      'rules:',
      '  - id: "!"',
      '  - id: ok-rule',
      '    source: { regionId: cn-hangzhou, instanceId: MQ_INST_1, topic: t, groupId: GID_ok_rule }',
      '    target: { parentTopic: "a/+" }',
      '    routes:',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a route template, as rules.yaml writes it
      '      - { when: { tags: A }, topic: "${body.x}" }',
    ].join('\n'),
  )
  const verdict = validateRulesText(readFileSync(bad, 'utf8'))
  assert.ok(!verdict.ok)
  assert.ok(
    verdict.errors.some((e) => e.path.startsWith('rules[1].routes[0]')),
    'a route error among them',
  )
  // A previous build, which the failed one must leave as it was.
  const out = join(work, 'bad-dist')
  mkdirSync(join(out, 'bridge'), { recursive: true })
  writeFileSync(join(out, 'bridge', 'index.js'), '// the previous build\n')
  // In a child process and not quiet: esbuild's own service writes its log frames straight to the inherited stderr.
  const script = `import { buildAll } from ${JSON.stringify(join(root, 'scripts/build.ts'))}
buildAll({ rulesFile: ${JSON.stringify(bad)}, outDir: ${JSON.stringify(out)} }).then(
  () => console.log(JSON.stringify({ built: true })),
  (err) => console.log(JSON.stringify({ message: err.message })),
)`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })

  assert.equal(child.stderr, '', 'no esbuild error frames')
  const { message } = JSON.parse(child.stdout) as { message?: string }
  assert.ok(message !== undefined, `the build must fail: ${child.stdout}`)
  assert.match(message, /bad\.yaml; nothing was built, dist\/ is as it was/)
  for (const e of verdict.errors) {
    const line = `  ${e.path}: ${e.message}`
    assert.equal(message.split('\n').filter((l) => l === line).length, 1, `${e.path} once in:\n${message}`)
  }
  assert.equal(readFileSync(join(out, 'bridge', 'index.js'), 'utf8'), '// the previous build\n')
  assert.deepEqual(readdirSync(out), ['bridge'], 'nothing added beside it')
  assert.deepEqual(
    readdirSync(work).filter((f) => f.includes('building')),
    [],
    'no staging directory left behind',
  )
})

test('npm run build -- --rules bad.yaml: exit 1, each error printed once, nothing from esbuild', () => {
  const bad = join(work, 'bad-cli.yaml')
  writeFileSync(bad, 'rules:\n  - id: "!"\n')
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--rules', bad], { cwd: root, encoding: 'utf8' })
  assert.equal(child.status, 1)
  assert.equal(child.stdout, '')
  assert.doesNotMatch(child.stderr, /\[ERROR\]|esbuild/)
  assert.equal(child.stderr.split('\n').filter((l) => l.startsWith('  rules[0].id: ')).length, 1, child.stderr)
})

test('a build into a dist/ that exists replaces each function in place, and leaves no staging directory', async () => {
  const out = join(work, 'rebuilt')
  mkdirSync(join(out, 'bridge'), { recursive: true })
  writeFileSync(join(out, 'bridge', 'stale.js'), 'stale')
  const functions = await buildAll({ rulesFile, outDir: out, quiet: true })
  assert.deepEqual(readdirSync(out).sort(), [...functions].sort())
  assert.ok(!existsSync(join(out, 'bridge', 'stale.js')), 'the previous bundle went as a whole')
  assert.ok(existsSync(join(out, 'bridge', 'index.js')))
  assert.deepEqual(
    readdirSync(work).filter((f) => f.includes('building')),
    [],
  )
})
