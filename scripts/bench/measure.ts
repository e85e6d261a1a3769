// Runs batches through a publisher and measures them the same way for every publisher: the batches go
// back to back (each handed over when the previous call returned, as a busy trigger invokes), and the
// run lasts until the last call returned (acknowledged, for the bridge) and the subscriber, in its own
// process, had every message. Per call: how long it took; per batch: hand-over until the last delivery.
import type { Deliveries, Delivery } from './deliveries.js'
import { nextKey } from './messages.js'
import type { Publisher } from './publishers.js'

export interface Measurement {
  publisher: string
  batch: number
  batches: number
  sent: number
  delivered: number
  duplicates: number
  /** From the first hand-over until the last call returned and every message arrived (warm-up excluded). */
  seconds: number
  messagesPerSecond: number
  /** Per batch, until the publisher was done (for the bridge: the handler resolved). */
  callMs: Percentiles
  /** Per batch, until the subscriber had every message. */
  endToEndMs: Percentiles
}

export interface Percentiles {
  p50: number
  p99: number
  max: number
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]!) }
}

export function median(values: number[]): number {
  return percentiles(values).p50
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6

export async function measure(
  publisher: Publisher,
  deliveries: Deliveries,
  batch: number,
  batches: number,
  warmup = 1,
): Promise<Measurement> {
  let sent = 0
  let delivered = 0
  let duplicates = 0
  const tally = (d: Delivery) => {
    sent += batch
    delivered += d.delivered
    duplicates += d.total - d.delivered
  }
  // Warm-up: connections open, code paths compiled. Not timed.
  for (let i = 0; i < warmup; i++) {
    const key = nextKey()
    const send = publisher.prepare(key, batch)
    const arrived = deliveries.expect(key, batch)
    await send()
    tally(await arrived)
  }
  // Measured: every batch prepared first, then sent back to back, as a busy trigger would invoke.
  const keys = Array.from({ length: batches }, () => nextKey())
  const sends = keys.map((key) => publisher.prepare(key, batch))
  const arrivals = keys.map((key) => deliveries.expect(key, batch, 20_000 + batches * batch))
  const calls: number[] = []
  const starts: bigint[] = []
  const first = process.hrtime.bigint()
  for (const send of sends) {
    const start = process.hrtime.bigint()
    await send()
    calls.push(ms(start, process.hrtime.bigint()))
    starts.push(start)
  }
  const lastDone = process.hrtime.bigint()
  const results = await Promise.all(arrivals)
  results.forEach(tally)
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
  const lastArrival = results.reduce((a, d) => (d.lastAt > a ? d.lastAt : a), 0n)
  // biome-ignore lint/complexity/useMathMinMax: bigint, which Math.max does not take
  const seconds = ms(first, lastArrival > lastDone ? lastArrival : lastDone) / 1000
  return {
    publisher: publisher.name,
    batch,
    batches,
    sent,
    delivered,
    duplicates,
    seconds: round(seconds),
    messagesPerSecond: Math.round((batch * batches) / seconds),
    callMs: percentiles(calls),
    endToEndMs: percentiles(results.map((d, i) => ms(starts[i]!, d.lastAt))),
  }
}
