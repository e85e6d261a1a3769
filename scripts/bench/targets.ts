// The benchmark's targets (docs/performance.md, "Targets"), evaluated on one run's figures: each with the
// scenario it applies to, the figure measured, and PASS or MISS. A MISS is reported, never fatal.
import { delayedAckPairs, fmtRatio, proto, type Results, type Target } from './report.js'

/** Of the round trips measured, the one the window targets apply to. */
export const TARGET_RTT_MS = 20

export function evaluateTargets(r: Omit<Results, 'targets' | 'ok'>): Target[] {
  const targets: Target[] = []
  const pass = (ok: boolean): Target['status'] => (ok ? 'PASS' : 'MISS')
  for (const row of r.throughput) {
    // The broker's defaults are what the targets are about; the no-delay broker is the comparison.
    if (row.broker !== 'default') continue
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
  for (const p of delayedAckPairs(r)) {
    targets.push({
      target: 'QoS 1 batch of 100, p50: Nagle-on broker ≤ 1.5× no-delay broker',
      scenario: `MQTT ${proto(p.at.version)}, pool ${p.at.pool}, ${p.at.transport.toUpperCase()}`,
      measured: `${p.nagle.toFixed(2)} ms vs ${p.noDelay.toFixed(2)} ms (${p.k.toFixed(2)}×)`,
      status: pass(p.k <= 1.5),
    })
  }
  for (const row of r.latency) {
    if (row.rttMs !== TARGET_RTT_MS || !row.bridge || row.ceiling === undefined || row.ofCeiling === undefined) continue
    const at = `${row.broker} broker, ${row.rttMs} ms round trip, batch ${row.batch}, QoS 1, MQTT 5, pool ${row.pool}`
    const share = row.pool === 1 ? 80 : 70
    targets.push({
      target: `bridge ≥ ${share} % of ${row.pool === 1 ? '' : `${row.pool} × `}receive maximum / round trip`,
      scenario: at,
      measured: `${row.bridge.messagesPerSecond.toLocaleString('en-US')} msg/s of ${row.ceiling.toLocaleString('en-US')} (${Math.round(row.ofCeiling * 100)} %)`,
      status: pass(Math.round(row.ofCeiling * 100) >= share),
    })
    if (row.pool === 4 && row.ratios.mosquittoPub !== undefined) {
      targets.push({
        target: 'bridge ≥ 3.0× mosquitto_pub -M 20 through the same proxy',
        scenario: at,
        measured: fmtRatio(row.ratios.mosquittoPub),
        status: pass(row.ratios.mosquittoPub >= 3),
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
