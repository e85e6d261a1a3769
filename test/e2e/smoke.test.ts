// `npm run smoke` against `npm start`'s local server, standing in for the deployed bridge: one synthetic
// message invoked through @alicloud/fc2 and awaited on MQTT_URL; and where it stops, and why, when the
// key is wrong, the rule is off, or MQTT_URL is not the broker the bridge publishes to.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildAll } from '../../scripts/build.js'
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../../scripts/local/start-options.js'
import { type Broker, startAedes, startMosquitto } from '../helpers/broker.js'
import { cleanEnv, SERVING, type Started, startNpmStart, waitForOutput } from '../helpers/npm-start.js'
import { freePort } from '../helpers/ports.js'
import { needsMosquitto } from '../helpers/requirements.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
let server: Started
let fcUrl: string
let mqttUrl: string
let other: Broker

/** Runs the command; asynchronously, so this process's own broker (and the server's output) keep being served meanwhile. */
function smoke(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cli/smoke.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...cleanEnv(),
      ALIBABA_CLOUD_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: LOCAL_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_ACCOUNT_ID: LOCAL_ACCOUNT_ID,
      FC_ENDPOINT: fcUrl,
      MQTT_URL: mqttUrl,
      ...env,
    },
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, out })))
}

before(async () => {
  if (!existsSync(join(root, 'dist/bridge/index.js'))) await buildAll({ quiet: true })
  const [mqttPort, fcPort] = [await freePort(), await freePort()]
  fcUrl = `http://127.0.0.1:${fcPort}`
  mqttUrl = `mqtt://127.0.0.1:${mqttPort}`
  server = startNpmStart(root, ['--mqtt-port', String(mqttPort), '--fc-port', String(fcPort)], {
    DEAD_LETTER_DIR: mkdtempSync(join(tmpdir(), 'smoke-dl-')),
  })
  await waitForOutput(server, SERVING, 45_000)
  other = await startAedes()
})

after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGINT')
    await new Promise((r) => server.once('exit', r))
  }
  await other?.stop()
})

describe('npm run smoke against npm start', () => {
  test('the command npm start prints for it works as printed', () => {
    assert.match(
      server.output(),
      /ALIBABA_CLOUD_ACCESS_KEY_ID=LOCAL_ACCESS_KEY_ID .* FC_ENDPOINT=http:\/\/127\.0\.0\.1:\d+ MQTT_URL=mqtt:\/\/127\.0\.0\.1:\d+ \\\n {2}npm run smoke -- --rule home-lamps/,
    )
  })

  test('a rule with an instance, and a self-managed one without: invoked, published, received on the mapped topic; exit 0', async () => {
    for (const [rule, parent] of [
      ['home-lamps', 'home'],
      ['warehouse-orders', 'warehouse'],
    ]) {
      const r = await smoke(['--rule', rule!])
      assert.equal(r.status, 0, r.out)
      assert.match(r.out, new RegExp(`expects {5}${parent}/smoke/[0-9a-f]{10}, QoS 1`))
      assert.match(r.out, /invoked {5}request 1-[0-9a-f]+-[0-9a-f]+: received 1, published 1/)
      assert.match(r.out, new RegExp(`received {4}${parent}/smoke/[0-9a-f]{10}, QoS 1`))
      assert.match(r.out, new RegExp(`OK: the deployed bridge delivered a message for rule ${rule}`))
    }
    // The server's bridge logged the smoke message as an ordinary invocation.
    assert.match(server.output(), /\[info\] \{"event":"bridge\.invocation".*"rules":\{"home-lamps":1\}/)
  })

  test('properties and body of your own; the first enabled rule without --rule', async () => {
    const r = await smoke(['--property', 'mqttSecondTopic=/robot-42/commands', '--body', 'ping from smoke'])
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /rule {8}device-commands/)
    assert.match(r.out, /received {4}devices\/robot-42\/commands, QoS 1, 15 bytes/)
  })

  test("a wrong key: exit 1 at the invoke, with Function Compute's answer", async () => {
    const r = await smoke(['--rule', 'home-lamps'], { ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'not-the-secret' })
    assert.equal(r.status, 1)
    assert.match(r.out, /FAILED: the invoke failed: .*403.*signature does not match/)
    assert.ok(!r.out.includes('not-the-secret'), 'the secret is not echoed')
  })

  test('MQTT_URL not the broker the bridge publishes to: published, but it never arrives; exit 1 saying so', async () => {
    const r = await smoke(['--rule', 'home-lamps', '--timeout', '1'], { MQTT_URL: other.url })
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /published 1/)
    assert.match(
      r.out,
      /FAILED: the bridge reported it published, but nothing arrived on home\/smoke\/[0-9a-f]+ within 1 s: is MQTT_URL the broker/,
    )
  })

  test('a disabled rule, a missing account ID, no MQTT_URL: exit 1 before anything is sent; --help', async () => {
    assert.match((await smoke(['--rule', 'firmware-blobs'])).out, /FAILED: rule firmware-blobs is disabled/)
    assert.match((await smoke([], { ALIBABA_CLOUD_ACCOUNT_ID: '' })).out, /FAILED: the invoke needs ALIBABA_CLOUD_ACCOUNT_ID/)
    assert.match(
      (await smoke([], { MQTT_URL: '' })).out,
      /FAILED: the subscriber takes the bridge's MQTT settings from the environment: invalid configuration:\n {2}MQTT_URL: is required/,
    )
    const help = await smoke(['--help'])
    assert.equal(help.status, 0)
    assert.match(help.out, /^usage: npm run smoke/)
  })
})

describe('npm run smoke on a routed rule, against npm start on Mosquitto', needsMosquitto(), () => {
  const routed = fileURLToPath(new URL('../fixtures/routed-rules.yaml', import.meta.url))
  let mosquitto: Broker
  let routedServer: Started
  let env: Record<string, string>

  before(async () => {
    mosquitto = await startMosquitto()
    const fcPort = await freePort()
    env = { FC_ENDPOINT: `http://127.0.0.1:${fcPort}`, MQTT_URL: mosquitto.url }
    routedServer = startNpmStart(root, ['--fc-port', String(fcPort), '--no-samples'], {
      RULES_FILE: routed,
      MQTT_URL: mosquitto.url,
      DEAD_LETTER_DIR: mkdtempSync(join(tmpdir(), 'smoke-routed-dl-')),
    })
    await waitForOutput(routedServer, SERVING, 45_000)
  })

  after(async () => {
    if (routedServer && routedServer.exitCode === null) {
      routedServer.kill('SIGINT')
      await new Promise((r) => routedServer.once('exit', r))
    }
    await mosquitto?.stop()
  })

  test("a body made from the route's filter; delivered to a topic no device subscribes to (smoke-<random> in each placeholder)", async () => {
    const r = await smoke(['--rules', routed, '--rule', 'plant'], env)
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /rule {8}plant: RocketMQ \S+ plant-events \(tag Alarm\) -> MQTT alarms, plant/)
    assert.match(r.out, /"device":"smoke-[0-9a-f]{10}"/)
    assert.match(r.out, /expects {5}alarms\/smoke-[0-9a-f]{10}\/smoke-[0-9a-f]{10}, QoS 1 through routes\[0\]/)
    assert.match(r.out, /received {4}alarms\/smoke-[0-9a-f]{10}\/smoke-[0-9a-f]{10}, QoS 1/)
    assert.match(r.out, /OK: the deployed bridge delivered a message for rule plant/)
  })

  test('a rule only its routes publish for (unmatched: skip): a nested body path and a prefix filter', async () => {
    const r = await smoke(['--rules', routed, '--rule', 'orders'], env)
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /-> MQTT orders\n/)
    assert.match(r.out, /received {4}orders\/smoke-[0-9a-f]{10}, QoS 1/)
  })

  test('a --body no route accepts: exit 1 before the invoke, with a hint at --body and what the route reads', async () => {
    const r = await smoke(['--rules', routed, '--rule', 'orders', '--body', 'not json'], env)
    assert.equal(r.status, 1, r.out)
    assert.match(
      r.out,
      /FAILED: the bridge would not publish this message: .*give the message by hand: --body '\{…\}' with kind \(what rules\[1\]\.routes\[0\] accepts\)/,
    )
    assert.doesNotMatch(r.out, /invoked/)
  })
})
