// Counts of one cell of the report (a rule, a minute, or both) and its lag quantiles, in bounded memory: exact up
// to EXACT lags, then a log-bucketed histogram (DDSketch's scheme) within 1 % of the true value, about 1,100
// buckets from 1 ms to 3 years (docs/operations.md, "How is it doing?").

export const LAG_ACCURACY = 0.01
const EXACT = 512
const GAMMA = (1 + LAG_ACCURACY) / (1 - LAG_ACCURACY)
const LOG_GAMMA = Math.log(GAMMA)

export class LagSketch {
  count = 0
  max = 0
  private exact: number[] | undefined = []
  private zeros = 0
  private readonly buckets = new Map<number, number>()

  add(v: number, n = 1): void {
    this.count += n
    if (v > this.max) this.max = v
    if (this.exact && this.exact.length + n <= EXACT) {
      for (let i = 0; i < n; i++) this.exact.push(v)
      return
    }
    if (this.exact) {
      const kept = this.exact
      this.exact = undefined
      for (const x of kept) this.bucket(x, 1)
    }
    this.bucket(v, n)
  }

  private bucket(v: number, n: number): void {
    if (v <= 0) this.zeros += n
    else {
      const k = Math.ceil(Math.log(v) / LOG_GAMMA)
      this.buckets.set(k, (this.buckets.get(k) ?? 0) + n)
    }
  }

  merge(o: LagSketch): void {
    const max = Math.max(this.max, o.max)
    if (o.exact) for (const x of o.exact) this.add(x)
    else {
      if (o.zeros > 0) this.add(0, o.zeros)
      for (const [k, n] of o.buckets) this.add((2 * GAMMA ** k) / (GAMMA + 1), n)
    }
    this.max = max
  }

  /** Nearest-rank quantile; undefined when there is no lag. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined
    const rank = Math.min(this.count, Math.max(1, Math.ceil(q * this.count)))
    if (this.exact) return [...this.exact].sort((a, b) => a - b)[rank - 1]
    let seen = this.zeros
    if (rank <= seen) return 0
    for (const k of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(k)!
      if (rank <= seen) return Math.min(this.max, Math.round((2 * GAMMA ** k) / (GAMMA + 1)))
    }
    return this.max
  }
}

export const COUNTS = ['received', 'published', 'deadLettered', 'duplicates', 'filtered', 'expired', 'failed'] as const
export type Count = (typeof COUNTS)[number]

export interface Stats extends Record<Count, number> {
  invocations: number
  /** A Map: an outcome is text from the logs (`__proto__`). */
  outcomes: Map<string, number>
  lags: LagSketch
}

export const emptyStats = (): Stats => ({
  invocations: 0,
  outcomes: new Map(),
  ...(Object.fromEntries(COUNTS.map((c) => [c, 0])) as Record<Count, number>),
  lags: new LagSketch(),
})

export function mergeStats(into: Stats, from: Stats): Stats {
  into.invocations += from.invocations
  for (const [k, n] of from.outcomes) into.outcomes.set(k, (into.outcomes.get(k) ?? 0) + n)
  for (const c of COUNTS) into[c] += from[c]
  into.lags.merge(from.lags)
  return into
}

/** received − (published + deadLettered + duplicates + filtered + expired + failed): 0 when every message is accounted for. */
export const unaccounted = (s: Record<Count, number>): number =>
  s.received - s.published - s.deadLettered - s.duplicates - s.filtered - s.expired - s.failed
