// MQTT_RATE_LIMIT against what it delivers: per setting, the bridge at pool 1 (one connection), QoS 1, MQTT 5,
// on the broker's defaults, sends `seconds` worth of messages at that rate (in invocations of at most 10,000,
// the trigger's largest batch, back to back), after a warm-up of the same (the connection open, the pacing's schedule running). Achieved = messages / the
// batch's time from hand-over until the last acknowledgement and the last delivery; beside it, the lead (hand-over
// until the first delivery: parsing and planning) and the paced rate (first to last delivery), which say where a miss comes from. The target: within
// −10 % and +20 % of the setting (docs/performance.md, "The rate limit").
import { messageOf } from '../../shared/errors.js'
import type { Broker } from '../mqtt/mosquitto.js'
import { openBridge } from './bridge.js'
import type { Deliveries } from './deliveries.js'
import { round } from './measure.js'
import { nextKey } from './messages.js'
import type { Run } from './scenarios.js'
import { type Target, target } from './targets.js'

export const RATE_SETTINGS = { full: [10, 100, 500, 1000, 2000, 5000, 10_000], quick: [100, 2000, 10_000] }
export const RATE_SECONDS = { full: 2, quick: 0.5 }
/** The band the achieved rate must fall in, as a share of the setting. */
export const RATE_BAND = { min: 0.9, max: 1.2 }

export interface RateRow {
  /** MQTT_RATE_LIMIT, msg/s per connection. */
  setting: number
  messages: number
  /** Invocations they came in: at most 10,000 messages each, back to back. */
  invocations: number
  /** Hand-over until the handler returned and the subscriber had every message. */
  seconds: number
  /** messages / seconds: what the target holds against the setting. */
  achieved: number
  /** achieved / setting. */
  ratio: number
  /** Hand-over until the first message reached the subscriber: parsing and planning the first batch, before any pacing. */
  leadMs: number
  /** Between the first and the last delivery: the pacing alone. */
  paced: number
}

const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6

/** The most messages a RocketMQ trigger pushes at once (docs/platform-facts.md): a longer run is several invocations. */
const LARGEST_BATCH = 10_000

export async function runRateLimit(run: Run, broker: Broker, d: Deliveries, settings: number[], seconds: number): Promise<RateRow[]> {
  const rows: RateRow[] = []
  for (const setting of settings) {
    const label = `bridge pool 1, MQTT_RATE_LIMIT=${setting}, default broker, QoS 1, MQTT 5`
    run.log(`bench: ${label}…`)
    const messages = Math.max(2, Math.round(setting * seconds))
    const sizes = Array.from({ length: Math.ceil(messages / LARGEST_BATCH) }, (_, i) =>
      Math.min(LARGEST_BATCH, messages - i * LARGEST_BATCH),
    )
    const shape = { url: broker.url, qos: 1 as const, version: 5 as const, pool: 1, deadLetterDir: run.deadLetterDir, rateLimit: setting }
    const publisher = await openBridge(run.bridge, shape, run.bridgeProblems)
    try {
      let [sent, delivered, duplicates] = [0, 0, 0]
      // The invocations back to back, as a busy trigger makes them: hand-over of the first until every one returned and arrived.
      const twoSeconds = async () => {
        const batches = sizes.map((n) => ({ n, key: nextKey() }))
        const sends = batches.map((b) => publisher.prepare(b.key, b.n))
        const arrivals = batches.map((b) => d.expect(b.key, b.n, 20_000 + messages))
        const start = process.hrtime.bigint()
        for (const send of sends) await send()
        const done = process.hrtime.bigint()
        const got = await Promise.all(arrivals)
        for (const [i, g] of got.entries()) {
          sent += batches[i]!.n
          delivered += g.delivered
          duplicates += g.total - g.delivered
        }
        return { start, done, got }
      }
      await twoSeconds() // the warm-up: connection open, code compiled, the schedule running
      const { start, done, got } = await twoSeconds()
      run.count(label, { sent, delivered, duplicates })
      const last = got[got.length - 1]!.lastAt
      // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
      const total = ms(start, last > done ? last : done) / 1000
      const achieved = Math.round(messages / total)
      // Paced: within each invocation, first to last delivery (the next one's parsing is lead, not pacing).
      const span = got.reduce((a, g) => a + ms(g.firstAt, g.lastAt), 0)
      rows.push({
        ...{ setting, messages, invocations: sizes.length, seconds: round(total), achieved, ratio: round(achieved / setting) },
        leadMs: round(ms(start, got[0]!.firstAt), 1),
        paced: Math.round(((messages - sizes.length) * 1000) / span),
      })
    } catch (err) {
      run.problems.push(`${label}: ${messageOf(err)}`)
    } finally {
      await publisher.close().catch((err) => run.problems.push(`${label}: close: ${String(err)}`))
    }
  }
  return rows
}

/** Two per setting: the lower and the upper edge of the band. */
export function rateTargets(rows: RateRow[]): Target[] {
  return rows.flatMap((row) => {
    const at = `MQTT_RATE_LIMIT=${row.setting}, pool 1, QoS 1, MQTT 5, ${row.messages.toLocaleString('en-US')} messages in ${row.invocations} invocation${row.invocations === 1 ? '' : 's'}`
    const figures = [row.achieved, row.setting, 'msg/s'] as [number, number, string]
    return [
      target(`rate limit: achieved ≥ ${RATE_BAND.min}× the setting`, at, figures, 'ratio', '>=', RATE_BAND.min),
      target(`rate limit: achieved ≤ ${RATE_BAND.max}× the setting`, at, figures, 'ratio', '<=', RATE_BAND.max),
    ]
  })
}
