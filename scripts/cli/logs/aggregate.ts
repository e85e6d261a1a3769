// Bridge log lines -> counts per rule and per minute, lag quantiles, and the top reasons.
//
// The bridge logs its bridge.dead-letter and bridge.failure lines first and the bridge.invocation line (the
// summary) last, all with the invocation's request ID. So the per-message lines wait under their request ID
// until the summary arrives, and the invocation is then counted under its rule. On Function Compute each
// trigger serves one rule, so an invocation belongs to one rule; a batch that spans several (local runs) is
// split by what its lines name: published from `rules`, dead letters and failures from their lines, and
// what no line names (duplicates, filtered, lines past the bridge's cap) under UNATTRIBUTED.
import type { BridgeLine } from './parse-line.js'

export const UNATTRIBUTED = '(unattributed)'
/** Per-message lines still waiting for their summary after this long are counted without it. */
const ORPHAN_AFTER_MS = 2 * 60_000
/** The minute key of lines without a time. */
export const NO_TIME = -1

export interface Stats {
  invocations: number
  outcomes: Record<string, number>
  received: number
  published: number
  deadLettered: number
  duplicates: number
  filtered: number
  failed: number
  /** One lagMs per invocation that had one (the batch's oldest message). */
  lags: number[]
}

export const emptyStats = (): Stats => ({
  invocations: 0,
  outcomes: {},
  received: 0,
  published: 0,
  deadLettered: 0,
  duplicates: 0,
  filtered: 0,
  failed: 0,
  lags: [],
})

export function mergeStats(into: Stats, from: Stats): Stats {
  into.invocations += from.invocations
  for (const [k, n] of Object.entries(from.outcomes)) into.outcomes[k] = (into.outcomes[k] ?? 0) + n
  into.received += from.received
  into.published += from.published
  into.deadLettered += from.deadLettered
  into.duplicates += from.duplicates
  into.filtered += from.filtered
  into.failed += from.failed
  for (const l of from.lags) into.lags.push(l)
  return into
}

/** Nearest-rank quantile of `values`; undefined when empty. */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

interface Waiting {
  firstSeen: number
  time: number | undefined
  dead: Array<string | null>
  failed: Array<string | null>
}

interface MinuteBucket {
  totals: Stats
  rules: Map<string, Stats>
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const countInto = (m: Map<string, number>, key: string, n = 1) => m.set(key, (m.get(key) ?? 0) + n)

export class LogReport {
  linesRead = 0
  bridgeLines = 0
  first: number | undefined
  last: number | undefined
  readonly minutes = new Map<number, MinuteBucket>()
  readonly deadLetterReasons = new Map<string, number>()
  readonly failureReasons = new Map<string, number>()
  /** Connection events (mqtt.*) and preStop hooks run, by event name. */
  readonly connectionEvents = new Map<string, number>()
  readonly connectFailures = new Map<string, number>()
  private readonly waiting = new Map<string, Waiting>()
  private lastTime: number | undefined

  /** Counts one line of input; `line` is its parse, undefined when it is not a bridge line. */
  add(line: BridgeLine | undefined, now = Date.now()): void {
    this.linesRead++
    if (!line) return
    this.bridgeLines++
    const time = line.time ?? this.lastTime
    if (line.time !== undefined) {
      this.lastTime = line.time
      this.first = Math.min(this.first ?? line.time, line.time)
      this.last = Math.max(this.last ?? line.time, line.time)
    }
    const f = line.fields
    const requestId = line.requestId ?? '(no request ID)'
    switch (f.event) {
      case 'bridge.dead-letter':
      case 'bridge.failure': {
        const dead = f.event === 'bridge.dead-letter'
        const more = num(f['more'])
        if (more > 0) {
          countInto(dead ? this.deadLetterReasons : this.failureReasons, `(${more} more, not itemised in the log)`, more)
          return
        }
        countInto(dead ? this.deadLetterReasons : this.failureReasons, typeof f['reason'] === 'string' ? f['reason'] : '(no reason)')
        const w = this.waiting.get(requestId) ?? { firstSeen: now, time, dead: [], failed: [] }
        ;(dead ? w.dead : w.failed).push(typeof f['ruleId'] === 'string' ? f['ruleId'] : null)
        this.waiting.set(requestId, w)
        return
      }
      case 'bridge.invocation':
        this.invocation(f, requestId, time)
        return
      default:
        countInto(this.connectionEvents, f.event)
        if (f.event === 'mqtt.connect-failed')
          countInto(this.connectFailures, typeof f['reason'] === 'string' ? f['reason'] : '(no reason)')
    }
  }

  private bucket(time: number | undefined): MinuteBucket {
    const key = time === undefined ? NO_TIME : Math.floor(time / 60_000) * 60_000
    let b = this.minutes.get(key)
    if (!b) {
      b = { totals: emptyStats(), rules: new Map() }
      this.minutes.set(key, b)
    }
    return b
  }

  private invocation(f: BridgeLine['fields'], requestId: string, time: number | undefined): void {
    const w = this.waiting.get(requestId)
    this.waiting.delete(requestId)
    const published = (f['rules'] ?? {}) as Record<string, unknown>
    const s: Stats = {
      invocations: 1,
      outcomes: { [typeof f['outcome'] === 'string' ? f['outcome'] : 'ok']: 1 },
      received: num(f['received']),
      published: num(f['published']),
      deadLettered: num(f['deadLettered']),
      duplicates: num(f['duplicates']),
      // Counted where the bridge reports it (docs/architecture.md, "Bridge function"); absent means none.
      filtered: num(f['filtered']),
      failed: num(f['failed']),
      lags: typeof f['lagMs'] === 'number' ? [f['lagMs']] : [],
    }
    const b = this.bucket(time)
    mergeStats(b.totals, s)
    const named = new Set<string>(
      [...Object.keys(published), ...(w?.dead ?? []), ...(w?.failed ?? [])].filter((r): r is string => r !== null),
    )
    if (named.size <= 1) {
      this.addRule(b, named.size === 1 ? [...named][0]! : UNATTRIBUTED, s)
      return
    }
    const rest = { ...s, invocations: 0, outcomes: {}, lags: [] as number[] }
    for (const rule of named) {
      const part: Stats = {
        ...emptyStats(),
        invocations: 1,
        outcomes: { ...s.outcomes },
        published: num(published[rule]),
        deadLettered: w?.dead.filter((r) => r === rule).length ?? 0,
        failed: w?.failed.filter((r) => r === rule).length ?? 0,
        lags: [...s.lags],
      }
      part.received = part.published + part.deadLettered + part.failed
      rest.received -= part.received
      rest.published -= part.published
      rest.deadLettered -= part.deadLettered
      rest.failed -= part.failed
      this.addRule(b, rule, part)
    }
    if (rest.received > 0 || rest.duplicates > 0 || rest.filtered > 0) this.addRule(b, UNATTRIBUTED, rest)
  }

  private addRule(b: MinuteBucket, rule: string, s: Stats): void {
    mergeStats(b.rules.get(rule) ?? b.rules.set(rule, emptyStats()).get(rule)!, s)
  }

  /** Per-message lines whose summary never came (cut off by the time window, or lost): counted under their rules, without an invocation. */
  flushOrphans(now = Date.now(), all = false): void {
    for (const [id, w] of this.waiting) {
      if (!all && now - w.firstSeen < ORPHAN_AFTER_MS) continue
      this.waiting.delete(id)
      const b = this.bucket(w.time)
      for (const [list, field] of [
        [w.dead, 'deadLettered'],
        [w.failed, 'failed'],
      ] as const) {
        for (const rule of list) {
          const s = emptyStats()
          s[field] = 1
          s.received = 1
          mergeStats(b.totals, s)
          this.addRule(b, rule ?? UNATTRIBUTED, s)
        }
      }
    }
  }

  /** Keeps only the minutes from `since` on (the rolling window of --follow). */
  dropBefore(since: number): void {
    for (const key of this.minutes.keys()) if (key !== NO_TIME && key < since) this.minutes.delete(key)
  }

  /** Totals over the kept minutes: overall and per rule. */
  totals(): { all: Stats; rules: Map<string, Stats> } {
    const all = emptyStats()
    const rules = new Map<string, Stats>()
    for (const b of this.minutes.values()) {
      mergeStats(all, b.totals)
      for (const [rule, s] of b.rules) mergeStats(rules.get(rule) ?? rules.set(rule, emptyStats()).get(rule)!, s)
    }
    return { all, rules }
  }
}

/** [reason, count] pairs, most frequent first, at most `n`. */
export function top(counts: Map<string, number>, n: number): Array<{ reason: string; count: number }> {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([reason, count]) => ({ reason, count }))
}
