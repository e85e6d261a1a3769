// Every publisher measured the same way: batches prepared untimed, then handed over back to back (each when the
// previous call returned, as a busy trigger invokes), until the last call returned and the subscriber, in its own
// process, had every message.
import type { Deliveries, Delivery } from './deliveries.js'
import { nextKey } from './messages.js'
import type { Publisher } from './publishers.js'

/** `seconds`: from the first hand-over until every message arrived; `callMs` per batch until the publisher was done. */
export type Measurement = Awaited<ReturnType<typeof measure>>
export type Percentiles = ReturnType<typeof percentiles>

export interface Tally {
  sent: number
  delivered: number
  duplicates: number
}

/** The value at quantile `q` (the lower median at 0.5), NaN if none. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export const median = (values: number[]) => quantile(values, 0.5)

/**
 * A distribution-free 95 % confidence interval of the median (from the order statistics: the median lies
 * below the k-th smallest of n values with a binomial chance), so a verdict near its target shows how near.
 */
export function medianInterval(values: number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  // The largest k with P(Binomial(n, 1/2) < k) <= 2.5 %: [x_k, x_(n+1-k)] then holds the median with >= 95 %.
  let k = 0
  for (let below = 0, p = 0.5 ** n; k < n && below + p <= 0.025; k++) {
    below += p
    p = (p * (n - k)) / (k + 1)
  }
  return k === 0 ? [Number.NaN, Number.NaN] : [sorted[k - 1]!, sorted[n - k]!]
}

function percentiles(values: number[]) {
  return { p50: round(median(values)), p99: round(quantile(values, 0.99)), max: round(quantile(values, 1)) }
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

export const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6

/** Batches of `sizes`, back to back; what arrived is added to `tally`. `end`: the last call returned and every message arrived. */
export async function backToBack(publisher: Publisher, deliveries: Deliveries, sizes: number[], tally: Tally) {
  const keys = sizes.map(() => nextKey())
  const total = sizes.reduce((a, n) => a + n, 0)
  const sends = keys.map((key, i) => publisher.prepare(key, sizes[i]!))
  const arrivals = keys.map((key, i) => deliveries.expect(key, sizes[i]!, 20_000 + total))
  const calls: number[] = []
  const starts: bigint[] = []
  for (const send of sends) {
    const start = process.hrtime.bigint()
    await send()
    calls.push(ms(start, process.hrtime.bigint()))
    starts.push(start)
  }
  const done = process.hrtime.bigint()
  const got: Delivery[] = await Promise.all(arrivals)
  tally.sent += total
  for (const d of got) {
    tally.delivered += d.delivered
    tally.duplicates += d.total - d.delivered
  }
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
  const end = got.reduce((a, d) => (d.lastAt > a ? d.lastAt : a), done)
  return { calls, starts, got, end }
}

export async function measure(publisher: Publisher, deliveries: Deliveries, batch: number, batches: number, warmup = 1) {
  const tally: Tally = { sent: 0, delivered: 0, duplicates: 0 }
  // Warm-up: connections open, code paths compiled. Not timed.
  for (let i = 0; i < warmup; i++) await backToBack(publisher, deliveries, [batch], tally)
  const r = await backToBack(publisher, deliveries, Array<number>(batches).fill(batch), tally)
  const seconds = ms(r.starts[0]!, r.end) / 1000
  return {
    publisher: publisher.name,
    batch,
    batches,
    ...tally,
    seconds: round(seconds),
    messagesPerSecond: Math.round((batch * batches) / seconds),
    callMs: percentiles(r.calls),
    endToEndMs: percentiles(r.got.map((d, i) => ms(r.starts[i]!, d.lastAt))),
  }
}
