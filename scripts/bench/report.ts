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

/** Mosquitto's network defaults (Nagle on), or with set_tcp_nodelay true. */
export type BrokerKind = 'default' | 'no-delay'

export interface ThroughputRow {
  broker: BrokerKind
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

/** Batches of QoS 1 over MQTT 5 through the latency proxy. */
export interface LatencyRow {
  broker: BrokerKind
  rttMs: number
  pool: number
  batch: number
  /** What the broker announced in its CONNACK: the bridge's window per connection. */
  receiveMaximum: number
  bridge?: Measurement
  /** `mosquitto_pub -l -M 20` through the same proxy (one connection, whatever the pool). */
  mosquittoPub?: Measurement
  /** Receive maximum × pool / round trip, msg/s: what the window allows (round trips above 0). */
  ceiling?: number
  /** The bridge's rate as a share of the ceiling. */
  ofCeiling?: number
  ratios: { mosquittoPub?: number }
}

/** Single messages through the latency proxy: hand-over until the subscriber has it, and the call itself. */
export interface SingleRow {
  broker: BrokerKind
  rttMs: number
  qos: 0 | 1
  who: 'bridge pool 1' | 'MQTT.js loop'
  endToEndMs: Percentiles
  callMs: Percentiles
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
  /** Each broker measured, in words. */
  brokers: Record<BrokerKind, string>
  startedAt: string
  durationS: number
  machine: Machine
  throughput: ThroughputRow[]
  latency: LatencyRow[]
  singles: SingleRow[]
  coldStart?: { load: LoadTimes; firstPublish: { bundle: FirstPublish; source: FirstPublish } }
  bundleSizes: Record<string, number>
  memory?: { samples: RssSample[]; gcExposed: boolean; firstMb: number; lastMb: number; growthMb: number; firstAt: number; lastAt: number }
  profile?: ProfileSummary & { scenario: string }
  targets: Target[]
  scenarios: Counted[]
  problems: string[]
  ok: boolean
}

export const fmtRate = (m?: Measurement) => (m ? m.messagesPerSecond.toLocaleString('en-US') : '—')
export const fmtRatio = (r?: number) => (r === undefined ? '—' : `${r.toFixed(2)}×`)
const fmtP = (p?: Percentiles) => (p ? `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)}` : '—')
export const proto = (v: 4 | 5) => (v === 5 ? '5' : '3.1.1')

export function ratio(a?: Measurement, b?: Measurement): number | undefined {
  return a && b && b.messagesPerSecond > 0 ? Math.round((a.messagesPerSecond / b.messagesPerSecond) * 100) / 100 : undefined
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

function throughputTable(rows: ThroughputRow[]): string {
  return table(
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
    rows.map((row) => [
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
  )
}

/** QoS 1 batches of 100 on both brokers: the delayed-ACK stall's measure. */
export function delayedAckPairs(r: Pick<Results, 'throughput'>): Array<{ at: ThroughputRow; nagle: number; noDelay: number; k: number }> {
  const pairs: Array<{ at: ThroughputRow; nagle: number; noDelay: number; k: number }> = []
  for (const row of r.throughput) {
    if (row.broker !== 'default' || row.batch !== 100 || row.qos !== 1 || !row.bridge) continue
    const twin = r.throughput.find(
      (o) =>
        o.broker === 'no-delay' &&
        o.batch === 100 &&
        o.qos === 1 &&
        o.version === row.version &&
        o.pool === row.pool &&
        o.transport === row.transport,
    )
    if (!twin?.bridge) continue
    const nagle = row.bridge.callMs.p50
    const noDelay = twin.bridge.callMs.p50
    pairs.push({ at: row, nagle, noDelay, k: Math.round((nagle / noDelay) * 100) / 100 })
  }
  return pairs
}

export function render(r: Results): string {
  const out: string[] = []
  out.push(
    `Throughput on ${r.brokers.default}, messages per second (256-byte payloads; each batch timed from hand-over until the publisher is done and the subscriber has every message):\n`,
  )
  out.push(throughputTable(r.throughput.filter((row) => row.broker === 'default')))
  const noDelay = r.throughput.filter((row) => row.broker === 'no-delay')
  if (noDelay.length > 0) {
    out.push(`\nThroughput on ${r.brokers['no-delay']}, messages per second:\n`)
    out.push(throughputTable(noDelay))
  }
  const pairs = delayedAckPairs(r)
  if (pairs.length > 0) {
    out.push('\nA QoS 1 invocation of 100 messages, p50 ms: Nagle on (the default) against set_tcp_nodelay true:\n')
    out.push(
      table(
        ['transport', 'MQTT', 'pool', 'default broker', 'no-delay broker', 'ratio'],
        pairs.map((p) => [
          p.at.transport.toUpperCase(),
          proto(p.at.version),
          String(p.at.pool),
          p.nagle.toFixed(2),
          p.noDelay.toFixed(2),
          `${p.k.toFixed(2)}×`,
        ]),
      ),
    )
  }
  if (r.latency.length > 0) {
    out.push('\nAcross a round trip (the latency proxy), QoS 1, MQTT 5, messages per second:\n')
    out.push(
      table(
        [
          'broker',
          'round trip',
          'batch',
          'pool',
          'bridge',
          'window allows',
          'bridge/allowed',
          'mosquitto_pub -M 20',
          'bridge/mosquitto_pub',
        ],
        r.latency.map((row) => [
          row.broker,
          `${row.rttMs} ms`,
          row.batch.toLocaleString('en-US'),
          String(row.pool),
          fmtRate(row.bridge),
          row.ceiling === undefined
            ? '—'
            : `${row.ceiling.toLocaleString('en-US')} (${row.receiveMaximum} × ${row.pool} / ${row.rttMs} ms)`,
          row.ofCeiling === undefined ? '—' : `${Math.round(row.ofCeiling * 100)} %`,
          fmtRate(row.mosquittoPub),
          fmtRatio(row.ratios.mosquittoPub),
        ]),
      ),
    )
  }
  if (r.singles.length > 0) {
    out.push('\nSingle messages across the round trip, p50 / p99 ms, MQTT 5 (end to end: hand-over until the subscriber has it):\n')
    out.push(
      table(
        ['round trip', 'QoS', 'who', 'end to end', 'call'],
        r.singles.map((s) => [`${s.rttMs} ms`, String(s.qos), s.who, fmtP(s.endToEndMs), fmtP(s.callMs)]),
      ),
    )
  }
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
        ['function', 'bundle size', 'require bundle', 'vs MQTT.js alone', 'import sources (tsx)'],
        [
          ...Object.keys(c.load.bundle).map((fn) => [
            fn,
            `${((r.bundleSizes[`dist/${fn}/index.js`] ?? 0) / 1024).toFixed(0)} KB`,
            `${c.load.bundle[fn]} ms`,
            `${(c.load.bundle[fn]! / c.load.mqttAlone).toFixed(2)}×`,
            `${c.load.source[fn]} ms`,
          ]),
          [
            'MQTT.js alone (reference)',
            `${((r.bundleSizes['MQTT.js alone'] ?? 0) / 1024).toFixed(0)} KB`,
            `${c.load.mqttAlone} ms`,
            '1.00×',
            '—',
          ],
        ],
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
    `\n${r.mode} run (${r.command}), ${r.durationS} s, ${r.machine.nproc} cores (${r.machine.cpu}), Node ${r.machine.node}, brokers: ${r.brokers.default}; ${r.brokers['no-delay']}; load average at start ${r.machine.loadAverageAtStart.join(' ')}: ${r.ok ? 'OK' : 'FAILED'}`,
  )
  return out.join('\n')
}
