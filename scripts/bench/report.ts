// The benchmark's results as data (written as JSON) and as the tables printed at the end.
import type { FirstPublish, LoadTimes } from './coldstart.js'
import type { LogsFigures } from './logs.js'
import type { Measurement, Percentiles, Tally } from './measure.js'
import type { ProfileSummary } from './profile.js'
import { type BrokerKind, type LatencyRow, proto, type RateRow, type SingleRow, type ThroughputRow } from './scenarios.js'
import type { memorySoak, profileSoak } from './soak.js'
import { shown, type Target } from './targets.js'

/** A measured set of messages: the run fails unless delivered === sent for each. */
export type Counted = Tally & { scenario: string }

export interface Results {
  mode: 'quick' | 'full'
  command: string
  brokers: Record<BrokerKind, string>
  startedAt: string
  durationS: number
  machine: { nproc: number; cpu: string; node: string; mosquitto: string; os: string; loadAverageAtStart: number[] }
  throughput: ThroughputRow[]
  rateLimit: RateRow[]
  latency: LatencyRow[]
  singles: SingleRow[]
  coldStart: { load: LoadTimes; firstPublish: { bundle: FirstPublish; source: FirstPublish } }
  bundleSizes: Record<string, number>
  memory: Awaited<ReturnType<typeof memorySoak>>['memory']
  profile: Awaited<ReturnType<typeof profileSoak>>['profile']
  logs: LogsFigures
  targets: Target[]
  scenarios: Counted[]
  problems: string[]
  ok: boolean
}

const rate = (m?: Measurement) => (m ? m.messagesPerSecond.toLocaleString('en-US') : '—')
const times = (r?: number) => (r === undefined ? '—' : `${r.toFixed(2)}×`)
const p50p99 = (p?: Percentiles) => (p ? `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)}` : '—')

/** QoS 1 batches of 100 on both brokers: the delayed-ACK stall's measure. */
export function delayedAckPairs(r: Pick<Results, 'throughput'>) {
  const key = (o: ThroughputRow) => `${o.batch} ${o.qos} ${o.version} ${o.pool} ${o.transport}`
  const twins = new Map(r.throughput.filter((o) => o.broker === 'no-delay').map((o) => [key(o), o]))
  return r.throughput.flatMap((at) => {
    const twin = twins.get(key(at))?.bridge
    if (at.broker !== 'default' || at.batch !== 100 || at.qos !== 1 || !at.bridge || !twin) return []
    const [nagle, noDelay] = [at.bridge.callMs.p50, twin.callMs.p50]
    return [{ at, nagle, noDelay, k: Math.round((nagle / noDelay) * 100) / 100 }]
  })
}

/** A markdown table; `header` is the column names joined by `|`. */
export function table(header: string, rows: Array<Array<string | number>>): string {
  const names = header.split('|')
  const cells = rows.map((r) => r.map(String))
  const widths = names.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(names), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n')
}

const tls = (w: ThroughputRow) => (w.transport === 'tls' ? ' (TLS)' : '')
const THROUGHPUT = 'batch|QoS|MQTT|pool|bridge|mosquitto_pub|MQTT.js loop|naive|bridge/mosquitto_pub|bridge/loop|bridge/naive'
const throughputRows = (rows: ThroughputRow[]) =>
  rows.map((w) => [
    `${w.batch.toLocaleString('en-US')}${tls(w)}`,
    ...[w.qos, proto(w.version), w.pool],
    ...[w.bridge, w.mosquittoPub, w.plain, w.naive].map(rate),
    ...[w.ratios.mosquittoPub, w.ratios.plain, w.ratios.naive].map(times),
  ])

export function render(r: Results): string {
  const out: string[] = []
  const section = (title: string, header: string, rows: Array<Array<string | number>>) =>
    rows.length > 0 && out.push(`\n${title}\n`, table(header, rows))
  const kb = (name: string) => `${((r.bundleSizes[name] ?? 0) / 1024).toFixed(0)} KB`
  const n = (x: number) => x.toLocaleString('en-US')
  for (const broker of ['default', 'no-delay'] as const)
    section(
      `Throughput on ${r.brokers[broker]}, messages per second${broker === 'default' ? ' (256-byte payloads; each batch timed from hand-over until the publisher is done and the subscriber has every message)' : ''}:`,
      THROUGHPUT,
      throughputRows(r.throughput.filter((w) => w.broker === broker)),
    )
  section(
    'A QoS 1 invocation of 100 messages, p50 ms: Nagle on (the default) against set_tcp_nodelay true:',
    'transport|MQTT|pool|default broker|no-delay broker|ratio',
    delayedAckPairs(r).map(({ at, nagle, noDelay, k }) => [
      at.transport.toUpperCase(),
      proto(at.version),
      at.pool,
      nagle.toFixed(2),
      noDelay.toFixed(2),
      times(k),
    ]),
  )
  section(
    'MQTT_RATE_LIMIT against the rate achieved, pool 1 (one connection), QoS 1, MQTT 5, on the defaults:',
    'MQTT_RATE_LIMIT|messages (invocations)|seconds|achieved msg/s|achieved/setting|lead (to first delivery)|paced (first → last delivery)',
    r.rateLimit.map((w) => [
      ...[n(w.setting), `${n(w.messages)} (${w.invocations})`, w.seconds.toFixed(3), n(w.achieved), times(w.ratio)],
      ...[`${w.leadMs} ms`, `${n(w.paced)} msg/s`],
    ]),
  )
  section(
    'Across a round trip (the latency proxy), QoS 1, MQTT 5, messages per second:',
    'broker|round trip|batch|pool|bridge|window allows|bridge/allowed|mosquitto_pub -M 20|bridge/mosquitto_pub',
    r.latency.map((w) => [
      ...[w.broker, `${w.rttMs} ms`, n(w.batch), w.pool, rate(w.bridge)],
      w.ceiling === undefined ? '—' : `${n(w.ceiling)} (${w.receiveMaximum} × ${w.pool} / ${w.rttMs} ms)`,
      w.ofCeiling === undefined ? '—' : `${Math.round(w.ofCeiling * 100)} %`,
      ...[rate(w.mosquittoPub), times(w.ratios.mosquittoPub)],
    ]),
  )
  section(
    'Single messages across the round trip, p50 / p99 ms, MQTT 5 (end to end: hand-over until the subscriber has it):',
    'round trip|QoS|who|end to end|call',
    r.singles.map((s) => [`${s.rttMs} ms`, s.qos, s.who, p50p99(s.endToEndMs), p50p99(s.callMs)]),
  )
  section(
    'Warm single-message invocations, latency p50 / p99 in ms (bridge: handler call until it resolves; loop: one publishAsync round trip; naive: connect + publish + disconnect):',
    'QoS|MQTT|pool|bridge|MQTT.js loop|naive',
    r.throughput
      .filter((w) => w.batch === 1)
      .map((w) => [`${w.qos}${tls(w)}`, proto(w.version), w.pool, ...[w.bridge, w.plain, w.naive].map((m) => p50p99(m?.callMs))]),
  )
  const { load, firstPublish } = r.coldStart
  const { bundle, source, mqttAlone } = load
  section(
    `Cold start (fresh node process each, median of ${load.runs}):`,
    'function|bundle size|require bundle|vs MQTT.js alone|import sources (tsx)',
    [
      ...Object.keys(bundle).map((fn) => [
        fn,
        kb(`dist/${fn}/index.js`),
        `${bundle[fn]} ms`,
        times(bundle[fn]! / mqttAlone),
        `${source[fn]} ms`,
      ]),
      ['MQTT.js alone (reference)', kb('MQTT.js alone'), `${mqttAlone} ms`, '1.00×', '—'],
    ],
  )
  const fp = (what: string, f: FirstPublish) => [what, `${f.loadMs} ms`, `${f.firstAckMs} ms`, `${f.processMs} ms`]
  section('', 'bridge|load|load → first acknowledged publish|whole process (spawn → exit)', [
    fp('bundle (require)', firstPublish.bundle),
    fp('sources (tsx)', firstPublish.source),
  ])
  const m = r.memory
  const samples = m.samples.map((s) => `${n(s.messages / 1000)}k: ${s.rssMb}`).join(', ')
  out.push(`\nResident memory of a warm bridge (batches of 1,000, QoS 1, MQTT 5; RSS${m.gcExposed ? ' after gc' : ''}, MB): ${samples}`)
  const p = r.profile
  const list = (fs: ProfileSummary['sharedSelf'], where: boolean) =>
    fs
      .slice(0, 6)
      .map((f) => `${f.function}${where ? ` (${f.where})` : ''} ${f.percent}%`)
      .join('; ')
  const areas = p.areas.slice(0, 8).map((a) => `${a.area} ${a.percent}%`)
  out.push(`\nCPU profile (${p.scenario}; ${p.busyMs} ms busy): ${areas.join(', ')}`)
  out.push(
    `  shared/ self:  ${list(p.sharedSelf, true)}`,
    `  shared/ total: ${list(p.sharedTotal, false)}`,
    `  mqtt self:     ${list(p.mqttSelf, true)}`,
    `\n${r.logs.text}`,
  )
  section(
    'Targets:',
    'target|scenario|measured|status',
    r.targets.map((t) => [t.target, t.scenario, shown(t), t.pass ? 'PASS' : 'MISS']),
  )
  const sent = r.scenarios.reduce((a, s) => a + s.sent, 0)
  const missing = r.scenarios.filter((s) => s.delivered < s.sent)
  const delivered =
    missing.length === 0 ? 'every one delivered' : `MISSING in ${missing.map((s) => `${s.scenario} (${s.delivered}/${s.sent})`).join(', ')}`
  out.push(`\nDeliveries: ${r.scenarios.length} measured sets, ${n(sent)} messages sent, ${delivered}.`)
  if (r.problems.length > 0) out.push(`\nProblems:\n${r.problems.map((x) => `- ${x}`).join('\n')}`)
  const mc = r.machine
  out.push(
    `\n${r.mode} run (${r.command}), ${r.durationS} s, ${mc.nproc} cores (${mc.cpu}), Node ${mc.node}, brokers: ${r.brokers.default}; ${r.brokers['no-delay']}; load average at start ${mc.loadAverageAtStart.join(' ')}: ${r.ok ? 'OK' : 'FAILED'}`,
  )
  return out.join('\n')
}
