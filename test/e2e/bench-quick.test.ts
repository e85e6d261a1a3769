// The benchmark harness in its short mode, so that it cannot rot: it must run to the end and every
// message of every scenario must reach its subscriber. Speed is not checked here (issue 7: speed is
// measured by npm run bench, never in timed unit tests).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Target } from '../../scripts/bench/targets.js'
import { needsMosquitto } from '../helpers/requirements.js'

const root = resolve(fileURLToPath(import.meta.url), '../../..')

interface Row {
  broker: 'default' | 'no-delay'
  transport: 'tcp' | 'tls'
  batch: number
  qos: number
  version: number
  pool: number
  bridge?: { messagesPerSecond: number }
  ratios: { mosquittoPub?: number; naive?: number }
}

interface BenchJson {
  ok: boolean
  mode: string
  brokers: Record<string, string>
  scenarios: Array<{ scenario: string; sent: number; delivered: number }>
  throughput: Row[]
  rateLimit: Array<{ setting: number; messages: number; achieved: number; paced: number }>
  latency: Array<{ broker: string; rttMs: number; pool: number; bridge?: unknown; mosquittoPub?: unknown; ceiling?: number }>
  singles: Array<{ rttMs: number; qos: number; who: string; endToEndMs: { p50: number; p99: number } }>
  targets: Target[]
  coldStart: { load: { bundle: Record<string, number>; mqttAlone: number } }
  mapping: { rows: Array<{ variant: string; nsPerMessage: number; beforeNetwork: { nsPerMessage: number } }> }
  logs: {
    lines: number
    invocations: number
    wcSeconds: number
    runs: Array<{ mode: string; seconds: number; peakRssMb: number; invocations?: number }>
  }
}

test('npm run bench -- --quick: runs to the end, and every scenario delivered every message', {
  timeout: 300_000,
  ...needsMosquitto(),
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'bench-quick-'))
  const out = join(work, 'bench.json')
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/bench.ts', '--quick', '--out', out], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let text = ''
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString()
      })
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString()
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), 280_000)
      child.once('exit', (c) => {
        clearTimeout(timer)
        done({ code: c, output: text })
      })
    })
    assert.equal(code, 0, `bench --quick failed:\n${output.slice(-4000)}`)
    assert.ok(existsSync(out), `no JSON written to ${out}`)
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchJson
    assert.equal(results.mode, 'quick')
    assert.equal(results.ok, true)
    assert.match(results.brokers['default']!, /network defaults \(Nagle on\)/)
    assert.match(results.brokers['no-delay']!, /set_tcp_nodelay true/)
    const rows = results.throughput
    const on = (broker: Row['broker'], transport: Row['transport']) => rows.filter((r) => r.broker === broker && r.transport === transport)
    // The broker's defaults first: over TCP 4 batch sizes × 2 QoS × 2 protocol versions × 2 pool sizes; over
    // TLS single messages at both QoS and the QoS 1 batch of 100. The no-delay broker: batches of 100 and
    // 1,000 at both QoS over TCP, the QoS 1 batch of 100 over TLS.
    assert.deepEqual(
      [on('default', 'tcp').length, on('default', 'tls').length, on('no-delay', 'tcp').length, on('no-delay', 'tls').length],
      [32, 12, 16, 4],
    )
    assert.ok(
      rows.every((r) => r.bridge !== undefined),
      'every bridge scenario measured',
    )
    // Across round trips: 0, 2 and 20 ms on the default broker, 20 ms on the no-delay one, pool 1 and 4 each,
    // with mosquitto_pub through the same proxy; single messages end to end at 2 ms.
    assert.deepEqual(
      results.latency.map((l) => `${l.broker} ${l.rttMs} ${l.pool}`),
      ['default 0 1', 'default 0 4', 'default 2 1', 'default 2 4', 'default 20 1', 'default 20 4', 'no-delay 20 1', 'no-delay 20 4'],
    )
    assert.ok(results.latency.every((l) => l.bridge !== undefined && l.mosquittoPub !== undefined))
    assert.deepEqual(
      results.singles.map((s) => `${s.rttMs} ${s.qos} ${s.who}`),
      ['2 0 bridge pool 1', '2 0 MQTT.js loop', '2 1 bridge pool 1', '2 1 MQTT.js loop'],
    )
    // A single message across a 2 ms round trip cannot arrive sooner than the one way of 1 ms.
    for (const s of results.singles) assert.ok(s.endToEndMs.p50 >= 0.9, `${s.who}, QoS ${s.qos}: p50 ${s.endToEndMs.p50} ms`)
    // Cold start: each function's bundle, and MQTT.js alone as the reference, loaded in the same runs.
    assert.deepEqual(Object.keys(results.coldStart.load.bundle), ['bridge', 'dead-letter', 'validate-rules'])
    assert.ok(results.coldStart.load.mqttAlone > 0, 'the MQTT.js-alone reference was measured')
    // Routes against mqttSecondTopic: mapping alone, and before the network (parsing and planning, which map too).
    assert.deepEqual(
      results.mapping.rows.map((r) => r.variant),
      ['target + mqttSecondTopic', 'route: filter and template on properties', 'route: filter and template on the JSON body'],
    )
    for (const r of results.mapping.rows)
      assert.ok(r.nsPerMessage > 0 && r.beforeNetwork.nsPerMessage > r.nsPerMessage, `${r.variant}: ${JSON.stringify(r)}`)
    assert.ok(results.scenarios.length >= 64 + 40 + 8 + 4, `only ${results.scenarios.length} measured sets`)
    for (const s of results.scenarios) {
      assert.ok(s.sent > 0, `${s.scenario}: nothing sent`)
      assert.equal(s.delivered, s.sent, `${s.scenario}: ${s.delivered} of ${s.sent} delivered`)
    }
    // Speed is not asserted (a MISS is reported, never fatal), but every target is there, measured, and
    // its verdict is what its own figure says against its threshold.
    const count = (prefix: string) => results.targets.filter((t) => t.target.startsWith(prefix)).length
    const defaults = rows.filter((r) => r.broker === 'default')
    assert.deepEqual(
      {
        mosquittoPub: count('bridge ≥ 1.0× mosquitto_pub') + count('bridge ≥ 0.8× mosquitto_pub'),
        naive: count('warm single message'),
        p99: count('p99 single-message latency'),
        delayedAck: count('QoS 1 batch of 100, p50: Nagle-on broker ≤ 1.5× no-delay broker'),
        window: count('bridge ≥ 80 % of receive maximum') + count('bridge ≥ 70 % of 4 × receive maximum'),
        proxyRef: count('bridge ≥ 3.0× mosquitto_pub -M 20'),
        memory: count('RSS growth'),
        load: count('bundle loads'),
        rate: count('rate limit: achieved'),
      },
      {
        mosquittoPub: defaults.filter((r) => r.batch === 1000).length,
        naive: defaults.filter((r) => r.batch === 1).length,
        p99: defaults.filter((r) => r.batch === 1 && r.transport === 'tcp').length,
        // 2 versions × 2 pools × TCP and TLS.
        delayedAck: 8,
        // At 20 ms, on both brokers, pool 1 and pool 4.
        window: 4,
        proxyRef: 2,
        memory: 1,
        load: 3,
        // Each MQTT_RATE_LIMIT setting: the lower and the upper edge of the band.
        rate: 2 * results.rateLimit.length,
      },
      'one target per scenario that has one',
    )
    // MQTT_RATE_LIMIT: the quick settings, each measured on one connection, counted at the subscriber.
    assert.deepEqual(
      results.rateLimit.map((r) => r.setting),
      [100, 2000, 10_000],
    )
    for (const r of results.rateLimit) assert.ok(r.achieved > 0 && r.paced > 0, JSON.stringify(r))
    // npm run logs over a (small) day: text, --json and --follow, against wc -l; --json counted every invocation.
    assert.deepEqual(
      results.logs.runs.map((r) => r.mode),
      ['text', 'json', 'follow'],
    )
    assert.equal(results.logs.runs[1]!.invocations, results.logs.invocations)
    assert.equal(count('npm run logs'), 6)
    // Every target's verdict is what its own numbers say against its threshold.
    for (const t of results.targets) {
      const at = `${t.target}, ${t.scenario}`
      assert.ok(Number.isFinite(t.measured) && Number.isFinite(t.threshold), at)
      if (t.reference !== null) assert.ok(Math.abs(t.ratio! - t.measured / t.reference) < 1e-3, `${at}: ratio ${t.ratio}`)
      const value = t.compares === 'ratio' ? t.ratio! : t.compares === 'growth' ? t.measured - t.reference! : t.measured
      const meets = t.op === '>=' ? value >= t.threshold : t.op === '<=' ? value <= t.threshold : value < t.threshold
      assert.equal(t.pass, meets, `${at}: ${value} ${t.op} ${t.threshold}`)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
})
