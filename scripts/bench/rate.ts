// MQTT_RATE_LIMIT against the rate it delivers (docs/performance.md, "The rate limit"): per setting, the bridge at
// pool 1, QoS 1, MQTT 5 on the defaults, `seconds` worth of messages in invocations back to back, after a warm-up
// of the same. The lead (until the first delivery) and the paced rate (first to last) say where a miss comes from.
import type { Broker } from '../mqtt/mosquitto.js'
import { openBridge } from './bridge.js'
import type { Deliveries } from './deliveries.js'
import { backToBack, ms, round, type Tally } from './measure.js'
import { guarded, type Run } from './scenarios.js'
import { type Target, target } from './targets.js'

export const RATE_SETTINGS = { full: [10, 100, 500, 1000, 2000, 5000, 10_000], quick: [100, 2000, 10_000] }
export const RATE_SECONDS = { full: 2, quick: 0.5 }
/** The band the achieved rate must fall in, as a share of the setting. */
const RATE_BAND = { min: 0.9, max: 1.2 }
/** The most messages a RocketMQ trigger pushes at once (docs/platform-facts.md): a longer run is several invocations. */
const LARGEST_BATCH = 10_000

export interface RateRow {
  /** MQTT_RATE_LIMIT, msg/s per connection. */
  setting: number
  messages: number
  invocations: number
  /** Hand-over until the handler returned and the subscriber had every message. */
  seconds: number
  /** messages / seconds, and that / setting. */
  achieved: number
  ratio: number
  /** Hand-over until the first delivery: parsing and planning the first batch, before any pacing. */
  leadMs: number
  /** Between the first and the last delivery of each invocation: the pacing alone. */
  paced: number
}

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
    const row = await guarded(
      run,
      label,
      () => openBridge(run.bridge, shape, run.bridgeProblems),
      async (publisher): Promise<RateRow> => {
        const tally: Tally = { sent: 0, delivered: 0, duplicates: 0 }
        await backToBack(publisher, d, sizes, tally) // the warm-up: connection open, code compiled, the schedule running
        const { starts, got, end } = await backToBack(publisher, d, sizes, tally)
        run.count(label, tally)
        const total = ms(starts[0]!, end) / 1000
        const achieved = Math.round(messages / total)
        // Within each invocation, first to last delivery (the next one's parsing is lead, not pacing).
        const span = got.reduce((a, g) => a + ms(g.firstAt, g.lastAt), 0)
        return {
          ...{ setting, messages, invocations: sizes.length, seconds: round(total), achieved, ratio: round(achieved / setting) },
          leadMs: round(ms(starts[0]!, got[0]!.firstAt), 1),
          paced: Math.round(((messages - sizes.length) * 1000) / span),
        }
      },
    )
    if (row) rows.push(row)
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
