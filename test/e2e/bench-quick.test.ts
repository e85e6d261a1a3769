// The benchmark harness in its short mode, so that it cannot rot: it must run to the end and every
// message of every scenario must reach its subscriber. Speed is not checked here (issue 7: speed is
// measured by npm run bench, never in timed unit tests).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const installed = (cmd: string) => spawnSync(cmd, ['--help']).error === undefined

interface BenchJson {
  ok: boolean
  mode: string
  scenarios: Array<{ scenario: string; sent: number; delivered: number }>
  throughput: unknown[]
  targets: Array<{ status: string }>
}

test('npm run bench -- --quick: runs to the end, and every scenario delivered every message', {
  timeout: 240_000,
}, async () => {
  const missing = ['mosquitto', 'mosquitto_pub'].filter((cmd) => !installed(cmd))
  assert.deepEqual(
    missing,
    [],
    'the bench needs Mosquitto and its clients: apt-get install -y mosquitto mosquitto-clients (.ci/run installs them)',
  )
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
      const timer = setTimeout(() => child.kill('SIGKILL'), 220_000)
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
    // Over TCP, 32 bridge scenarios (4 batch sizes × 2 QoS × 2 protocol versions × 2 pool sizes); over TLS,
    // the 8 single-message ones; and their references.
    assert.equal(results.throughput.length, 40)
    assert.equal(results.throughput.filter((r) => (r as { transport?: string }).transport === 'tls').length, 8)
    assert.ok(results.scenarios.length >= 40 + 60, `only ${results.scenarios.length} measured sets`)
    for (const s of results.scenarios) {
      assert.ok(s.sent > 0, `${s.scenario}: nothing sent`)
      assert.equal(s.delivered, s.sent, `${s.scenario}: ${s.delivered} of ${s.sent} delivered`)
    }
    assert.ok(results.targets.every((t) => ['PASS', 'MISS', 'PENDING'].includes(t.status)))
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
})
