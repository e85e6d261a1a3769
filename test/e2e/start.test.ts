// `npm start` as a newcomer runs it: in a fresh copy of the working tree (no dist/, no .dead-letters/),
// with nothing but node_modules. --once must build, send examples/events.json through the served bridge,
// show every sample message received and the poison stored, and exit 0. Then the serving mode: a plain
// @alicloud/fc2 client and the printed curl invoke the bridge, a taken port is named, Ctrl-C stops it all.

import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import FCClient from '@alicloud/fc2'
import { readDeployment } from '../../scripts/local/deployment.js'
import { loadSamples } from '../../scripts/local/samples.js'
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../../scripts/local/start-options.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { cleanEnv, type Started, startNpmStart, waitForOutput } from '../helpers/npm-start.js'
import { freePort } from '../helpers/ports.js'
import { needsMosquitto } from '../helpers/requirements.js'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const samples = loadSamples(join(repo, 'examples', 'events.json'))
let clone: string

function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  return startNpmStart(clone, args, env)
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`npm start did not exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })

/** Tracked and new files, as git sees them; without git (an unpacked archive), the tree minus what git ignores here. */
function sourceFiles(): string[] {
  try {
    return (
      execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
        cwd: repo,
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .split('\0')
        // A worktree's node_modules may be a symlink, which git lists; the copy links it below anyway.
        .filter((f) => f !== '' && f !== 'node_modules')
    )
  } catch {
    const skip = new Set(['.git', 'node_modules', 'dist', '.dead-letters', '.bench', '.scratch'])
    const walk = (dir: string): string[] =>
      readdirSync(join(repo, dir), { withFileTypes: true }).flatMap((e) => {
        if (skip.has(e.name)) return []
        const rel = dir ? `${dir}/${e.name}` : e.name
        return e.isDirectory() ? walk(rel) : e.isFile() ? [rel] : []
      })
    return walk('')
  }
}

before(() => {
  // What a clone of the working tree would hold: tracked and new files, not what .gitignore excludes.
  clone = mkdtempSync(join(tmpdir(), 'npm-start-'))
  const files = sourceFiles()
  for (const f of files) {
    if (!existsSync(join(repo, f))) continue // deleted in the working tree
    mkdirSync(dirname(join(clone, f)), { recursive: true })
    copyFileSync(join(repo, f), join(clone, f))
  }
  symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'), 'dir')
  assert.ok(!existsSync(join(clone, 'dist')) && !existsSync(join(clone, '.dead-letters')), 'a fresh copy')
})

after(() => {
  rmSync(clone, { recursive: true, force: true })
})

describe('s.yaml as npm start reads it', () => {
  test('function names, code, timeouts, the lifecycle hooks, the HTTP trigger, the asynchronous retries and onFailure, the dead-letter target', () => {
    const d = readDeployment(join(repo, 's.yaml'), {}, LOCAL_ACCOUNT_ID)
    assert.deepEqual(d.names, {
      bridge: 'rocketmq-mqtt-bridge',
      'validate-rules': 'rocketmq-mqtt-validate-rules',
      'dead-letter': 'rocketmq-mqtt-dead-letter',
    })
    const bridge = d.functions.find((f) => f.role === 'bridge')!
    assert.deepEqual(
      [bridge.dir, bridge.timeout, bridge.initializer, bridge.maxAsyncRetryAttempts, bridge.onFailure],
      [join(repo, 'dist', 'bridge'), 120, 'index.initialize', 3, 'rocketmq-mqtt-dead-letter'],
    )
    assert.deepEqual([bridge.preStop, bridge.preStopTimeout], ['index.preStop', 10])
    assert.deepEqual(d.functions.find((f) => f.role === 'validate-rules')?.httpTrigger, { methods: ['POST'], authType: 'function' })
    assert.equal(d.deadLetterTarget, 'fc:rocketmq-mqtt-dead-letter')
    assert.equal(d.region, 'cn-hangzhou')
    assert.equal(readDeployment(join(repo, 's.yaml'), { REGION: 'cn-shanghai' }, LOCAL_ACCOUNT_ID).region, 'cn-shanghai')
  })
})

describe('npm start', () => {
  test('--once in a fresh copy builds, delivers every sample message, stores the poison, exits 0', async () => {
    const child = start(['--once'])
    const code = await exited(child, 55_000)
    const out = child.output()
    assert.equal(code, 0, out)
    assert.match(out, /built dist\/ \(.*missing\)/)
    assert.match(out, /embedded aedes: MQTT 3\.1\.1 only/)
    const received = out.slice(out.indexOf('== Received by the subscriber'), out.indexOf('== Dead letters'))
    for (const s of samples) {
      for (const m of s.expect.mqtt)
        assert.ok(received.includes(`  ${m.topic}  QoS ${m.qos}  ${m.payload}`), `${m.topic} ${m.payload} in:\n${received}`)
    }
    assert.match(out, /MQTT 5 property set dropped and counted \(droppedV5Properties\)/)
    assert.match(out, /summary: \{"requestId":"1-[0-9a-f]+-[0-9a-f]+","received":5,"published":4,"deadLettered":1/)
    // Log lines as `s logs` shows them: time requestId [level] message.
    assert.match(out, /^ {2}\| \d{4}-\d\d-\d\dT[\d:.]+Z 1-[0-9a-f]+-[0-9a-f]+ \[info\] \{"event":"bridge\.invocation"/m)
    const store = join(clone, '.dead-letters')
    assert.ok(out.includes(`stored by rocketmq-mqtt-dead-letter in ${store}`), out)
    assert.match(
      out,
      /SAMPLE-POISON-QOS3 {2}rule home-lamps {2}bridge-poison, 1 attempt\n\s+reason: userProperties\.qoslevel: must be 0, 1 or 2, got "3"/,
    )
    assert.match(out, /9\/9 sample messages received, 1\/1 poison messages stored as dead letters, 6\/6 invocations ok/)
    const stored = await readDeadLetters(store)
    assert.deepEqual(
      stored.map((e) => [e.messageId, e.ruleId, e.source]),
      [['SAMPLE-POISON-QOS3', 'home-lamps', 'bridge-poison']],
    )
    assert.match(stored[0]!.reason, /qoslevel/)
    for (const f of ['bridge', 'validate-rules', 'dead-letter']) assert.ok(existsSync(join(clone, 'dist', f, 'index.js')))
  })

  test('--once exits non-zero when a sample does not come out as expected', async () => {
    const events = join(clone, 'examples', 'events.json')
    const original = readFileSync(events, 'utf8')
    const doc = JSON.parse(original) as { samples: Array<{ expect: { mqtt: Array<{ payload: string }> } }> }
    doc.samples[1]!.expect.mqtt[0]!.payload = 'a payload the bridge never sends'
    try {
      writeFileSync(events, JSON.stringify(doc))
      const child = start(['--once'])
      assert.equal(await exited(child, 55_000), 1, child.output())
      assert.match(
        child.output(),
        /FAILED: sample "event-driven point-to-point message": devices\/p2p\/GID_xxx@@@DEVICEID_001 QoS 1 "a payload the bridge never sends" was not received/,
      )
    } finally {
      writeFileSync(events, original)
    }
  })

  test('serving: @alicloud/fc2 and the printed curl invoke the bridge; a taken port is named; Ctrl-C stops everything', async () => {
    const [mqttPort, fcPort] = [await freePort(), await freePort()]
    const child = start(['--mqtt-port', String(mqttPort), '--fc-port', String(fcPort)])
    try {
      await waitForOutput(child, 'What the subscriber receives from now on:', 30_000)

      // A plain Function Compute SDK client, pointed at the local server, gets the bridge's summary back.
      const client = new FCClient(LOCAL_ACCOUNT_ID, {
        accessKeyID: LOCAL_CREDENTIALS.accessKeyId,
        accessKeySecret: LOCAL_CREDENTIALS.accessKeySecret,
        region: 'cn-hangzhou',
        endpoint: `http://127.0.0.1:${fcPort}`,
      })
      client.version = '2023-03-30'
      const event = [
        {
          topic: 'TopicName',
          systemProperties: { TAGS: 'TagB', INSTANCE_ID: 'MQ_INST_1234567890123456_BXhFHryi' },
          userProperties: { mqttSecondTopic: '/hall/lamp' },
          body: 'from fc2',
        },
      ]
      const response = await client.post('/functions/rocketmq-mqtt-bridge/invocations', Buffer.from(JSON.stringify(event)), {
        'x-fc-invocation-type': 'Sync',
      })
      const summary = response.data as { requestId: string; received: number; published: number; rules: Record<string, number> }
      assert.deepEqual([summary.received, summary.published, summary.rules], [1, 1, { 'home-lamps': 1 }])
      assert.equal(response.headers['x-fc-request-id'], summary.requestId)
      await waitForOutput(child, '<- home/hall/lamp  QoS 1  from fc2', 10_000)

      // The first curl the output prints, pasted into a shell as is.
      const curl = child
        .output()
        .split('\n')
        .find((l) => l.startsWith('curl '))!
      assert.ok(curl.includes(`http://127.0.0.1:${fcPort}/2023-03-30/functions/rocketmq-mqtt-bridge/invocations`), curl)
      if (spawnSync('curl', ['--version']).error === undefined) {
        const result = JSON.parse(execFileSync('sh', ['-c', curl]).toString()) as { published: number }
        assert.equal(result.published, 1)
        await waitForOutput(child, '<- home/room1/lamp  QoS 1  hello from curl', 10_000)
      }
      assert.ok(child.output().includes(`mosquitto_sub -h 127.0.0.1 -p ${mqttPort} -V mqttv311 -q 2 -t 'devices/#' -t 'home/#'`))

      // Unsigned is accepted; signed but wrong is still refused.
      const invokeUrl = `http://127.0.0.1:${fcPort}/2023-03-30/functions/rocketmq-mqtt-bridge/invocations`
      const forged = await fetch(invokeUrl, {
        method: 'POST',
        body: '[]',
        headers: { authorization: `FC ${LOCAL_CREDENTIALS.accessKeyId}:Zm9yZ2Vk`, date: new Date().toUTCString() },
      })
      assert.equal(forged.status, 403)
      // What a web page sends: an Origin header. Refused, and nothing reaches the bridge.
      const fromPage = await fetch(invokeUrl, {
        method: 'POST',
        body: '[]',
        headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
      })
      assert.equal(fromPage.status, 403)
      assert.equal(((await fromPage.json()) as { ErrorCode: string }).ErrorCode, 'OriginNotAllowed')

      // The validate-rules HTTP trigger as the printed curl calls it: the function's real 422, not 200.
      const triggerCurl = child
        .output()
        .split('\n')
        .find((l) => l.startsWith('curl ') && l.includes('/http/rocketmq-mqtt-validate-rules'))
      assert.ok(triggerCurl, child.output())
      const answer = await fetch(`http://127.0.0.1:${fcPort}/http/rocketmq-mqtt-validate-rules`, {
        method: 'POST',
        body: 'rules: [{id: x}]',
      })
      assert.equal(answer.status, 422)
      assert.equal(((await answer.json()) as { valid: boolean }).valid, false)

      // A second instance on the same Function Compute port is refused with a message naming it.
      const second = start(['--mqtt-port', '0', '--fc-port', String(fcPort)])
      assert.equal(await exited(second, 30_000), 1)
      assert.match(
        second.output(),
        new RegExp(`port ${fcPort} \\(the local Function Compute invoke API\\) is already in use.*--fc-port <port>`),
      )

      child.kill('SIGINT')
      assert.equal(await exited(child, 10_000), 0, child.output())
      assert.match(child.output(), /SIGINT: stopping/)
      assert.deepEqual([await listening(mqttPort), await listening(fcPort)], [false, false], 'broker and invoke API closed')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })

  test('--require-signature: a key made for the run, printed; unsigned requests get 401, the published pair 403; invoke.ts with the printed key gets the summary', async () => {
    const fcPort = await freePort()
    const child = start(['--mqtt-port', '0', '--fc-port', String(fcPort), '--require-signature'])
    try {
      await waitForOutput(child, 'What the subscriber receives from now on:', 30_000)
      assert.ok(!child.output().includes('curl -sS'), 'no unsigned curl is offered')
      const unsigned = await fetch(`http://127.0.0.1:${fcPort}/2023-03-30/functions/rocketmq-mqtt-bridge/invocations`, {
        method: 'POST',
        body: '[]',
      })
      assert.equal(unsigned.status, 401)
      const key = /signing key +ALIBABA_CLOUD_ACCESS_KEY_ID=(\S+) ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\S+)/.exec(child.output())
      assert.ok(key, child.output())
      assert.notEqual(key[2], LOCAL_CREDENTIALS.accessKeySecret, 'not the published secret')
      const published = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/local/invoke.ts', '--fc-port', String(fcPort), 'rocketmq-mqtt-bridge'],
        { cwd: clone, input: '[]', env: cleanEnv() },
      )
      assert.equal(published.status, 1)
      assert.match(published.stderr.toString(), /failed with 403.*signature does not match/)
      const event = JSON.stringify([
        {
          topic: 'device-commands',
          systemProperties: { INSTANCE_ID: 'MQ_INST_1234567890123456_BXhFHryi' },
          userProperties: { mqttSecondTopic: '/robot-9/commands' },
          body: 'signed',
        },
      ])
      const invoked = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/local/invoke.ts', '--fc-port', String(fcPort), 'rocketmq-mqtt-bridge'],
        { cwd: clone, input: event, env: { ...cleanEnv(), ALIBABA_CLOUD_ACCESS_KEY_ID: key[1], ALIBABA_CLOUD_ACCESS_KEY_SECRET: key[2] } },
      )
      assert.equal(invoked.status, 0, invoked.stderr.toString())
      assert.deepEqual((JSON.parse(invoked.stdout.toString()) as { rules: object }).rules, { 'device-commands': 1 })
      await waitForOutput(child, '<- devices/robot-9/commands  QoS 1  signed', 10_000)
      child.kill('SIGTERM')
      assert.equal(await exited(child, 10_000), 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })

  test('--once with invalid rules lists each error exactly once, with its path, and exits 1: from RULES_FILE, and from rules.yaml at the build', async () => {
    const badText = [
      'rules:',
      '  - id: "!"',
      '  - id: ok-rule',
      '    source: { regionId: cn-hangzhou, instanceId: MQ_INST_1, topic: t, groupId: GID_ok_rule }',
      '    target: { parentTopic: "a/+" }',
    ].join('\n')
    const verdict = validateRulesText(badText)
    const lines = verdict.ok ? [] : verdict.errors.map((e) => `${e.path}: ${e.message}`)
    assert.equal(lines.length, 4)
    const bad = join(clone, 'bad.yaml')
    writeFileSync(bad, badText)
    const rulesYaml = join(clone, 'rules.yaml')
    const original = readFileSync(rulesYaml, 'utf8')

    const fromEnv = start(['--once'], { RULES_FILE: bad })
    const fromEnvCode = await exited(fromEnv, 55_000)
    writeFileSync(rulesYaml, badText)
    const atBuild = start(['--once'])
    const atBuildCode = await exited(atBuild, 55_000).finally(() => writeFileSync(rulesYaml, original))

    const runs: Array<[string, number | null, string]> = [
      ['RULES_FILE', fromEnvCode, fromEnv.output()],
      ['rules.yaml', atBuildCode, atBuild.output()],
    ]
    for (const [run, code, out] of runs) {
      assert.equal(code, 1, `${run}:\n${out}`)
      assert.ok(!out.includes('[ERROR]'), `${run}: no esbuild error frames in:\n${out}`)
      for (const line of lines) assert.equal(out.split(line).length - 1, 1, `${run}: "${line}" once in:\n${out}`)
    }
  })
})

describe('npm start under rules of your own (RULES_FILE), on Mosquitto', needsMosquitto(), () => {
  let broker: Broker
  const routed = fileURLToPath(new URL('../fixtures/routed-rules.yaml', import.meta.url))
  before(async () => {
    broker = await startMosquitto()
  })
  after(async () => {
    await broker?.stop()
  })

  test("--once: samples made from each rule and route, not examples/events.json; subscribed to every parent topic, the routes' included; all delivered, no dead letter", async () => {
    const store = mkdtempSync(join(tmpdir(), 'start-own-dl-'))
    const child = start(['--once'], { RULES_FILE: routed, MQTT_URL: broker.url, DEAD_LETTER_DIR: store })
    const code = await exited(child, 55_000)
    const out = child.output()
    assert.equal(code, 0, out)
    assert.match(out, /subscribed to alarms\/#, plant\/#, orders\/#/)
    assert.match(out, /samples: 4 made from .*routed-rules\.yaml \(one per route and target of each enabled rule\)/)
    for (const name of ['rule plant routes[0]', 'rule plant routes[1]', 'rule plant target', 'rule orders routes[0]'])
      assert.ok(out.includes(`: ${name} (1 message)`), `${name} in:\n${out}`)
    assert.ok(!samples.some((s) => out.includes(s.name)), "none of the repository's samples")
    const received = out.slice(out.indexOf('== Received by the subscriber'), out.indexOf('== Dead letters'))
    // Each placeholder filled with smoke-<token>; the filters' values as the rules write them (1.10, not 1.1).
    assert.match(
      received,
      /alarms\/smoke-[0-9a-f]{10}\/smoke-[0-9a-f]{10} {2}QoS 1 {2}\{"severity":"critical","site":"smoke-[0-9a-f]{10}","smokeTest":"[0-9a-f]{10}"\}/,
    )
    assert.match(received, /plant\/line-smoke-[0-9a-f]{10} {2}QoS 1/)
    assert.match(received, /plant\/smoke\/[0-9a-f]{10} {2}QoS 1 {2}sample for rule plant target/)
    assert.match(
      received,
      /orders\/smoke-[0-9a-f]{10} {2}QoS 1 {2}\{"kind":"ord-smoke-[0-9a-f]{10}","customer":\{"id":"smoke-[0-9a-f]{10}"\}/,
    )
    assert.match(out, /4\/4 sample messages received, 0\/0 poison messages stored as dead letters, 4\/4 invocations ok/)
    assert.ok(!out.includes('FAILED'), out)
    assert.deepEqual(await readDeadLetters(store), [])
  })

  test('--no-samples sends none: exit 0 with --once, nothing received, nothing stored', async () => {
    const store = mkdtempSync(join(tmpdir(), 'start-none-dl-'))
    const child = start(['--once', '--no-samples'], { RULES_FILE: routed, MQTT_URL: broker.url, DEAD_LETTER_DIR: store })
    const code = await exited(child, 55_000)
    const out = child.output()
    assert.equal(code, 0, out)
    assert.match(out, /samples: none \(--no-samples\)/)
    assert.match(out, /== Received by the subscriber \(0\)/)
    assert.match(out, /0\/0 sample messages received/)
    assert.deepEqual(await readDeadLetters(store), [])
  })
})
