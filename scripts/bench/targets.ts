// The benchmark's targets (docs/performance.md, "Targets") as data; the text columns are made from the numbers.
import { delayedAckPairs, type Results } from './report.js'
import { proto, TARGET_RTT_MS } from './scenarios.js'

export interface Target {
  target: string
  scenario: string
  unit: string
  measured: number
  /** What it is measured against, in the same unit; null for a bound on the figure itself. */
  reference: number | null
  ratio: number | null
  /** What is held against the threshold: the ratio, the figure itself, or its growth (measured − reference). */
  compares: 'ratio' | 'measured' | 'growth'
  op: '>=' | '<=' | '<'
  threshold: number
  pass: boolean
}

const r4 = (n: number) => Math.round(n * 10_000) / 10_000

function compared(t: Pick<Target, 'compares' | 'measured' | 'reference' | 'ratio'>): number {
  return t.compares === 'ratio' ? t.ratio! : t.compares === 'growth' ? r4(t.measured - t.reference!) : t.measured
}

export function target(
  target: string,
  scenario: string,
  [measured, reference, unit]: [number, number | null, string],
  compares: Target['compares'],
  op: Target['op'],
  threshold: number,
): Target {
  const t = { target, scenario, unit, measured, reference, ratio: reference ? r4(measured / reference) : null, compares, op, threshold }
  const v = compared(t)
  return { ...t, pass: op === '>=' ? v >= threshold : op === '<=' ? v <= threshold : v < threshold }
}

/** `2.91×`, `3.31 vs 0.38 ms (8.76×)`, `140.3 → 148.9 MB (+8.6 MB)`, `55.2 ms`. */
export function shown(t: Target): string {
  const n = (x: number) => (Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(2))
  if (t.compares === 'growth')
    return `${t.reference} → ${t.measured} ${t.unit} (${t.measured >= t.reference! ? '+' : ''}${compared(t)} ${t.unit})`
  if (t.reference === null) return `${n(t.measured)} ${t.unit}`
  if (t.compares === 'measured') return `${n(t.measured)} ${t.unit} (${t.ratio!.toFixed(2)}× the reference's ${n(t.reference)})`
  return `${n(t.measured)} vs ${n(t.reference)} ${t.unit} (${t.ratio!.toFixed(2)}×)`
}

export function evaluateTargets(r: Omit<Results, 'targets' | 'ok'>): Target[] {
  const targets: Target[] = []
  const add = (...args: Parameters<typeof target>) => targets.push(target(...args))
  const rate = 'msg/s'
  for (const row of r.throughput) {
    // The broker's defaults are what the targets are about; the no-delay broker is the comparison.
    if (row.broker !== 'default' || !row.bridge) continue
    const at = `batch ${row.batch}, QoS ${row.qos}, MQTT ${proto(row.version)}, pool ${row.pool}${row.transport === 'tls' ? ', TLS' : ''}`
    const bridge = row.bridge.messagesPerSecond
    if (row.batch === 1000 && row.mosquittoPub) {
      const min = row.qos === 1 ? 1.0 : 0.8
      add(`bridge ≥ ${min.toFixed(1)}× mosquitto_pub`, at, [bridge, row.mosquittoPub.messagesPerSecond, rate], 'ratio', '>=', min)
    }
    if (row.batch === 1 && row.naive) {
      const min = row.transport === 'tls' ? 20 : 5
      const what = `warm single message: bridge ≥ ${min}× naive (${row.transport.toUpperCase()})`
      add(what, at, [bridge, row.naive.messagesPerSecond, rate], 'ratio', '>=', min)
    }
    if (row.batch === 1 && row.transport === 'tcp' && row.plain) {
      add('p99 single-message latency ≤ 2× MQTT.js loop', at, [row.bridge.callMs.p99, row.plain.callMs.p99, 'ms'], 'ratio', '<=', 2)
    }
  }
  for (const p of delayedAckPairs(r)) {
    const at = `MQTT ${proto(p.at.version)}, pool ${p.at.pool}, ${p.at.transport.toUpperCase()}`
    add('QoS 1 batch of 100, p50: Nagle-on broker ≤ 1.5× no-delay broker', at, [p.nagle, p.noDelay, 'ms'], 'ratio', '<=', 1.5)
  }
  // Two per MQTT_RATE_LIMIT setting: the achieved rate within 0.9 to 1.2 times the setting.
  for (const row of r.rateLimit) {
    const at = `MQTT_RATE_LIMIT=${row.setting}, pool 1, QoS 1, MQTT 5, ${row.messages.toLocaleString('en-US')} messages in ${row.invocations} invocation${row.invocations === 1 ? '' : 's'}`
    const figures: [number, number, string] = [row.achieved, row.setting, 'msg/s']
    add('rate limit: achieved ≥ 0.9× the setting', at, figures, 'ratio', '>=', 0.9)
    add('rate limit: achieved ≤ 1.2× the setting', at, figures, 'ratio', '<=', 1.2)
  }
  for (const row of r.latency) {
    if (row.rttMs !== TARGET_RTT_MS || !row.bridge || row.ceiling === undefined) continue
    const at = `${row.broker} broker, ${row.rttMs} ms round trip, batch ${row.batch}, QoS 1, MQTT 5, pool ${row.pool}`
    const share = row.pool === 1 ? 80 : 70
    const what = `bridge ≥ ${share} % of ${row.pool === 1 ? '' : `${row.pool} × `}receive maximum / round trip`
    add(what, at, [row.bridge.messagesPerSecond, row.ceiling, rate], 'ratio', '>=', share / 100)
    if (row.pool === 4 && row.mosquittoPub) {
      const figures: [number, number, string] = [row.bridge.messagesPerSecond, row.mosquittoPub.messagesPerSecond, rate]
      add('bridge ≥ 3.0× mosquitto_pub -M 20 through the same proxy', at, figures, 'ratio', '>=', 3)
    }
  }
  const m = r.memory
  const at = `after ${m.firstAt.toLocaleString('en-US')} vs ${m.lastAt.toLocaleString('en-US')} messages`
  add('RSS growth ≤ 20 MB', at, [m.lastMb, m.firstMb, 'MB'], 'growth', '<=', 20)
  // Against MQTT.js alone, bundled the same way and loaded in the same runs: what any function speaking MQTT pays.
  const { bundle, mqttAlone } = r.coldStart.load
  for (const [fn, ms] of Object.entries(bundle))
    add('bundle loads in < 50 ms', `dist/${fn}/index.js`, [ms, mqttAlone, 'ms'], 'measured', '<', 50)
  return [...targets, ...r.logs.targets]
}
