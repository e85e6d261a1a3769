// The benchmark's results as data (written as JSON) and as the tables printed at the end, with each
// target and whether this run met it. A MISS is reported, never fatal.
import type { FirstPublish, LoadTimes } from './coldstart.js'
import type { Measurement, Percentiles } from './measure.js'
import type { ProfileSummary } from './profile.js'
import type { RssSample } from './soak.js'

export interface Machine {
  nproc: number
  cpu: string
  node: string
  mosquitto: string
  os: string
  loadAverageAtStart: number[]
}

/** Every measured set of messages: the run fails unless delivered === sent for each. */
export interface Counted {
  scenario: string
  sent: number
  delivered: number
  duplicates: number
}

export interface ThroughputRow {
  transport: 'tcp' | 'tls'
  batch: number
  qos: 0 | 1
  version: 4 | 5
  pool: number
  bridge?: Measurement
  mosquittoPub?: Measurement
  plain?: Measurement
  naive?: Measurement
  /** bridge msg/s divided by each reference's. */
  ratios: { mosquittoPub?: number; plain?: number; naive?: number }
}

export interface Target {
  target: string
  scenario: string
  measured: string
  status: 'PASS' | 'MISS'
}

export interface Results {
  mode: 'quick' | 'full'
  command: string
  broker: string
  startedAt: string
  durationS: number
  machine: Machine
  throughput: ThroughputRow[]
  coldStart?: { load: LoadTimes; firstPublish: { bundle: FirstPublish; source: FirstPublish } }
  bundleSizes: Record<string, number>
  memory?: { samples: RssSample[]; gcExposed: boolean; firstMb: number; lastMb: number; growthMb: number; firstAt: number; lastAt: number }
  profile?: ProfileSummary & { scenario: string }
  targets: Target[]
  scenarios: Counted[]
  problems: string[]
  ok: boolean
}

const fmtRate = (m?: Measurement) => (m ? m.messagesPerSecond.toLocaleString('en-US') : '—')
const fmtRatio = (r?: number) => (r === undefined ? '—' : `${r.toFixed(2)}×`)
const fmtP = (p?: Percentiles) => (p ? `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)}` : '—')
const proto = (v: 4 | 5) => (v === 5 ? '5' : '3.1.1')

export function ratio(a?: Measurement, b?: Measurement): number | undefined {
  return a && b && b.messagesPerSecond > 0 ? Math.round((a.messagesPerSecond / b.messagesPerSecond) * 100) / 100 : undefined
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/** The targets of issue 7, evaluated on this run's figures. */
export function evaluateTargets(r: Omit<Results, 'targets' | 'ok'>): Target[] {
  const targets: Target[] = []
  const pass = (ok: boolean): Target['status'] => (ok ? 'PASS' : 'MISS')
  for (const row of r.throughput) {
    const at = `batch ${row.batch}, QoS ${row.qos}, MQTT ${proto(row.version)}, pool ${row.pool}${row.transport === 'tls' ? ', TLS' : ''}`
    if (row.batch === 1000 && row.ratios.mosquittoPub !== undefined) {
      const min = row.qos === 1 ? 1.0 : 0.8
      targets.push({
        target: `bridge ≥ ${min.toFixed(1)}× mosquitto_pub`,
        scenario: at,
        measured: fmtRatio(row.ratios.mosquittoPub),
        status: pass(row.ratios.mosquittoPub >= min),
      })
    }
    if (row.batch === 1 && row.ratios.naive !== undefined) {
      const min = row.transport === 'tls' ? 20 : 5
      targets.push({
        target: `warm single message: bridge ≥ ${min}× naive (${row.transport.toUpperCase()})`,
        scenario: at,
        measured: fmtRatio(row.ratios.naive),
        status: pass(row.ratios.naive >= min),
      })
    }
    if (row.batch === 1 && row.transport === 'tcp' && row.bridge && row.plain) {
      const k = row.bridge.callMs.p99 / row.plain.callMs.p99
      targets.push({
        target: 'p99 single-message latency ≤ 2× MQTT.js loop',
        scenario: at,
        measured: `${row.bridge.callMs.p99.toFixed(2)} ms vs ${row.plain.callMs.p99.toFixed(2)} ms (${k.toFixed(2)}×)`,
        status: pass(k <= 2),
      })
    }
  }
  if (r.memory) {
    const m = r.memory
    targets.push({
      target: 'RSS growth ≤ 20 MB',
      scenario: `after ${m.firstAt.toLocaleString('en-US')} vs ${m.lastAt.toLocaleString('en-US')} messages`,
      measured: `${m.firstMb} → ${m.lastMb} MB (${m.growthMb >= 0 ? '+' : ''}${m.growthMb} MB)`,
      status: pass(m.growthMb <= 20),
    })
  }
  if (r.coldStart) {
    for (const [fn, ms] of Object.entries(r.coldStart.load.bundle)) {
      targets.push({ target: 'bundle loads in < 50 ms', scenario: `dist/${fn}/index.js`, measured: `${ms} ms`, status: pass(ms < 50) })
    }
  }
  return targets
}

export function render(r: Results): string {
  const out: string[] = []
  out.push(
    `Throughput, messages per second (256-byte payloads; each batch timed from hand-over until the publisher is done and the subscriber has every message):\n`,
  )
  out.push(
    table(
      [
        'batch',
        'QoS',
        'MQTT',
        'pool',
        'bridge',
        'mosquitto_pub',
        'MQTT.js loop',
        'naive',
        'bridge/mosquitto_pub',
        'bridge/loop',
        'bridge/naive',
      ],
      r.throughput.map((row) => [
        `${row.batch.toLocaleString('en-US')}${row.transport === 'tls' ? ' (TLS)' : ''}`,
        String(row.qos),
        proto(row.version),
        String(row.pool),
        fmtRate(row.bridge),
        fmtRate(row.mosquittoPub),
        fmtRate(row.plain),
        fmtRate(row.naive),
        fmtRatio(row.ratios.mosquittoPub),
        fmtRatio(row.ratios.plain),
        fmtRatio(row.ratios.naive),
      ]),
    ),
  )
  const single = r.throughput.filter((row) => row.batch === 1)
  if (single.length > 0) {
    out.push(
      `\nWarm single-message invocations, latency p50 / p99 in ms (bridge: handler call until it resolves; loop: one publishAsync round trip; naive: connect + publish + disconnect):\n`,
    )
    out.push(
      table(
        ['QoS', 'MQTT', 'pool', 'bridge', 'MQTT.js loop', 'naive'],
        single.map((row) => [
          `${row.qos}${row.transport === 'tls' ? ' (TLS)' : ''}`,
          proto(row.version),
          String(row.pool),
          fmtP(row.bridge?.callMs),
          fmtP(row.plain?.callMs),
          fmtP(row.naive?.callMs),
        ]),
      ),
    )
  }
  if (r.coldStart) {
    const c = r.coldStart
    out.push(`\nCold start (fresh node process each, median of ${c.load.runs}):\n`)
    out.push(
      table(
        ['function', 'bundle size', 'require bundle', 'import sources (tsx)'],
        Object.keys(c.load.bundle).map((fn) => [
          fn,
          `${((r.bundleSizes[`dist/${fn}/index.js`] ?? 0) / 1024).toFixed(0)} KB`,
          `${c.load.bundle[fn]} ms`,
          `${c.load.source[fn]} ms`,
        ]),
      ),
    )
    out.push('')
    out.push(
      table(
        ['bridge', 'load', 'load → first acknowledged publish', 'whole process (spawn → exit)'],
        [
          [
            'bundle (require)',
            `${c.firstPublish.bundle.loadMs} ms`,
            `${c.firstPublish.bundle.firstAckMs} ms`,
            `${c.firstPublish.bundle.processMs} ms`,
          ],
          [
            'sources (tsx)',
            `${c.firstPublish.source.loadMs} ms`,
            `${c.firstPublish.source.firstAckMs} ms`,
            `${c.firstPublish.source.processMs} ms`,
          ],
        ],
      ),
    )
  }
  if (r.memory) {
    const m = r.memory
    out.push(
      `\nResident memory of a warm bridge (batches of 1,000, QoS 1, MQTT 5; RSS${m.gcExposed ? ' after gc' : ''}, MB): ${m.samples.map((s) => `${(s.messages / 1000).toLocaleString('en-US')}k: ${s.rssMb}`).join(', ')}`,
    )
  }
  if (r.profile) {
    const p = r.profile
    out.push(
      `\nCPU profile (${p.scenario}; ${p.busyMs} ms busy): ${p.areas
        .slice(0, 8)
        .map((a) => `${a.area} ${a.percent}%`)
        .join(', ')}`,
    )
    out.push(
      `  shared/ self:  ${p.sharedSelf
        .slice(0, 6)
        .map((f) => `${f.function} (${f.where}) ${f.percent}%`)
        .join('; ')}`,
    )
    out.push(
      `  shared/ total: ${p.sharedTotal
        .slice(0, 6)
        .map((f) => `${f.function} ${f.percent}%`)
        .join('; ')}`,
    )
    out.push(
      `  mqtt self:     ${p.mqttSelf
        .slice(0, 6)
        .map((f) => `${f.function} (${f.where}) ${f.percent}%`)
        .join('; ')}`,
    )
  }
  out.push(`\nTargets:\n`)
  out.push(
    table(
      ['target', 'scenario', 'measured', 'status'],
      r.targets.map((t) => [t.target, t.scenario, t.measured, t.status]),
    ),
  )
  const counted = r.scenarios.reduce((a, s) => a + s.sent, 0)
  const missing = r.scenarios.filter((s) => s.delivered < s.sent)
  out.push(
    `\nDeliveries: ${r.scenarios.length} measured sets, ${counted.toLocaleString('en-US')} messages sent, ${missing.length === 0 ? 'every one delivered' : `MISSING in ${missing.map((s) => `${s.scenario} (${s.delivered}/${s.sent})`).join(', ')}`}.`,
  )
  if (r.problems.length > 0) out.push(`\nProblems:\n${r.problems.map((p) => `- ${p}`).join('\n')}`)
  out.push(
    `\n${r.mode} run (${r.command}), ${r.durationS} s, ${r.machine.nproc} cores (${r.machine.cpu}), Node ${r.machine.node}, ${r.broker}, load average at start ${r.machine.loadAverageAtStart.join(' ')}: ${r.ok ? 'OK' : 'FAILED'}`,
  )
  return out.join('\n')
}
