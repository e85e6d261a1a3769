// The report as text (tables, charts, top reasons) and as JSON. Text from the logs goes through `safe` or
// `safeJson`, so the terminal shows only what the report wrote.
import { BEYOND, type LogReport, NO_TIME, top, UNATTRIBUTED } from './aggregate.js'
import { COUNTS, type Count, type Stats, unaccounted } from './stats.js'

export interface RenderOptions {
  utc: boolean
  top: number
  minutes: number
  chartWidth: number
}

export const DEFAULT_RENDER: RenderOptions = { utc: false, top: 10, minutes: 30, chartWidth: 60 }
/** The chart covers at most this span: the one with the most invocations. Minutes outside it are listed. */
const CHART_SPAN_MINUTES = 7 * 24 * 60

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** What JSON.stringify leaves raw inside strings (it escapes C0 itself; its own newlines outside strings stay). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
/** Text from the logs, fit for a terminal. */
export const safe = (s: string) => s.replace(UNSAFE, escaped)
/** JSON escapes C0 controls itself; C1 controls and bidirectional overrides are escaped here, as JSON allows. */
export const safeJson = (json: string) => json.replace(UNSAFE_IN_JSON, escaped)

const pad2 = (n: number) => String(n).padStart(2, '0')

/** `UTC+08:00`: the zone the report's times are in, stated beside them. */
export function zoneName(utc: boolean, at = Date.now()): string {
  if (utc) return 'UTC'
  const off = -new Date(at).getTimezoneOffset()
  return `local time, UTC${off < 0 ? '-' : '+'}${pad2(Math.floor(Math.abs(off) / 60))}:${pad2(Math.abs(off) % 60)}`
}

export function minuteLabel(t: number, utc: boolean): string {
  if (t === NO_TIME) return '(no time)'
  if (t === BEYOND) return '(beyond a month of minutes)'
  const d = new Date(t)
  const [y, mo, day, h, mi] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes()]
  return `${String(y).padStart(4, '0')}-${pad2(mo)}-${pad2(day)} ${pad2(h)}:${pad2(mi)}`
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${(ms / 60_000).toFixed(1)} min`
}

const count = (n: number) => n.toLocaleString('en-US')
const byName = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

export function statsJson(s: Stats) {
  const l = s.lags
  return {
    invocations: s.invocations,
    outcomes: Object.fromEntries(byName(s.outcomes)),
    ...(Object.fromEntries(COUNTS.map((c) => [c, s[c]])) as Record<Count, number>),
    unaccounted: unaccounted(s),
    lagMs: l.count === 0 ? null : { p50: l.quantile(0.5)!, p99: l.quantile(0.99)!, max: l.max, invocations: l.count },
  }
}

const rulesJson = (m: Map<string, Stats>) => Object.fromEntries(byName(m).map(([k, s]) => [k, statsJson(s)]))

export function chartSpan(r: LogReport): { shown: number[]; outside: number[] } {
  const timed = [...r.minutes.keys()].filter((t) => t !== NO_TIME && t !== BEYOND).sort((a, b) => a - b)
  let best = [0, 0, -1]
  let sum = 0
  for (let lo = 0, hi = 0; hi < timed.length; hi++) {
    sum += r.minutes.get(timed[hi]!)!.totals.invocations + 1
    while (timed[hi]! - timed[lo]! >= CHART_SPAN_MINUTES * 60_000) sum -= r.minutes.get(timed[lo++]!)!.totals.invocations + 1
    if (sum > best[2]!) best = [lo, hi, sum]
  }
  const [lo, hi] = best as [number, number]
  return { shown: timed.slice(lo, hi + 1), outside: [...timed.slice(0, lo), ...timed.slice(hi + 1)] }
}

export function reportJson(r: LogReport, o: RenderOptions = DEFAULT_RENDER) {
  const { all, rules } = r.totals()
  const iso = (t: number | undefined) => (t === undefined || !Number.isFinite(new Date(t).getTime()) ? null : new Date(t).toISOString())
  return {
    lines: { read: r.linesRead, bridge: r.bridgeLines, ignored: r.linesRead - r.bridgeLines, oversized: r.oversized },
    from: iso(r.first),
    to: iso(r.last),
    totals: statsJson(all),
    rules: rulesJson(rules),
    minutes: [...r.minutes]
      .sort(([a], [b]) => a - b)
      .map(([t, b]) => ({
        minute: t === NO_TIME || t === BEYOND ? minuteLabel(t, true) : iso(t),
        totals: statsJson(b.totals),
        rules: rulesJson(b.rules),
      })),
    outsideChart: chartSpan(r).outside.map((t) => ({ minute: iso(t), invocations: r.minutes.get(t)!.totals.invocations })),
    unbalanced: {
      lines: r.unbalancedLines,
      first: r.unbalanced.map((u) => ({ ...u, time: iso(u.time), unaccounted: unaccounted(u.counts) })),
    },
    rejected: Object.fromEntries(byName(r.rejected)),
    deadLetterReasons: top(r.deadLetterReasons, o.top),
    failureReasons: top(r.failureReasons, o.top),
    connections: {
      events: Object.fromEntries(byName(r.connectionEvents)),
      reconnects: r.reconnects,
      connectFailures: top(r.connectFailures, o.top),
      connectFailuresTotal: [...r.connectFailures.values()].reduce((a, n) => a + n, 0),
    },
  }
}

const COLUMNS = ['invocations', 'received', 'published', 'dead-lettered', 'duplicates', 'filtered', 'expired', 'failed', 'unaccounted']

function cells(s: Stats): string[] {
  const l = s.lags
  return [s.invocations, ...COUNTS.map((c) => s[c]), unaccounted(s)].map(count).concat(
    [0.5, 0.99].map((q) => duration(l.quantile(q))),
    duration(l.count ? l.max : undefined),
  )
}

/** Left-aligned leading text columns, right-aligned numbers. */
function table(head: string[], rows: string[][], textColumns: number): string[] {
  const widths = head.map((h) => h.length)
  for (const r of rows) for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i]!, r[i]!.length)
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), ...rows.map(line)]
}

const clip = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)
const named = (rule: string) => (rule === UNATTRIBUTED ? rule : safe(rule))

export function reportText(r: LogReport, o: RenderOptions = DEFAULT_RENDER): string[] {
  const out: string[] = []
  const zone = zoneName(o.utc, r.last)
  const span = r.first === undefined ? 'no times' : `${minuteLabel(r.first, o.utc)} to ${minuteLabel(r.last!, o.utc)} (${zone})`
  const skipped = r.oversized > 0 ? `, ${count(r.oversized)} over 1 MB skipped` : ''
  out.push(`Bridge logs: ${count(r.linesRead)} lines read, ${count(r.bridgeLines)} from the bridge${skipped}, ${span}`)
  if (r.bridgeLines === 0) return out
  const { all, rules } = r.totals()
  const head = [...COLUMNS, 'lag p50', 'lag p99', 'lag max']
  out.push(
    '',
    'Per rule (received = published + dead-lettered + duplicates + filtered + expired + failed; unaccounted: what does not add up)',
  )
  out.push(...table(['rule', ...head], [...byName(rules).map(([rule, s]) => [named(rule), ...cells(s)]), ['all rules', ...cells(all)]], 1))
  const outcomes = byName(all.outcomes).map(([k, n]) => `${count(n)} ${safe(k)}`)
  out.push(`invocations by outcome: ${outcomes.join(', ') || 'none'}`)
  if (r.unbalancedLines > 0) {
    out.push(
      '',
      `Invocation lines that do not add up: ${count(r.unbalancedLines)}${r.unbalancedLines > r.unbalanced.length ? ` (the first ${r.unbalanced.length})` : ''}`,
    )
    for (const u of r.unbalanced) {
      const c = u.counts
      const parts = `${c.published} + ${c.deadLettered} + ${c.duplicates} + ${c.filtered} + ${c.expired} + ${c.failed}`
      out.push(
        `  ${u.time === undefined ? '(no time)' : minuteLabel(u.time, o.utc)}  ${clip(safe(u.requestId), 60)}: received ${c.received} ≠ ${parts} (${unaccounted(c)})`,
      )
    }
  }

  const minutes = [...r.minutes].sort(([a], [b]) => a - b)
  const shown = minutes.slice(-o.minutes)
  const earlier = minutes.length - shown.length
  out.push('', `Per minute (${zone})${earlier > 0 ? ` (the last ${shown.length}; ${earlier} earlier in --json)` : ''}`)
  const minuteRows: string[][] = []
  for (const [t, b] of shown) {
    const perRule = byName(b.rules)
    if (perRule.length === 1) minuteRows.push([minuteLabel(t, o.utc), named(perRule[0]![0]), ...cells(b.totals)])
    else
      minuteRows.push(
        [minuteLabel(t, o.utc), 'all rules', ...cells(b.totals)],
        ...perRule.map(([rule, s]) => ['', named(rule), ...cells(s)]),
      )
  }
  out.push(...table(['minute', 'rule', ...head], minuteRows, 2))
  out.push(...charts(r, o))

  const reasons = (title: string, counts: Map<string, number>) => {
    const list = top(counts, o.top)
    out.push('', `${title}${counts.size > list.length ? ` (top ${list.length} of ${counts.size})` : ''}`)
    if (list.length === 0) out.push('  none')
    const width = list.reduce((w, x) => Math.max(w, count(x.count).length), 1)
    for (const { reason, count: n } of list) out.push(`  ${count(n).padStart(width)} × ${clip(safe(reason))}`)
  }
  reasons('Dead-letter reasons', r.deadLetterReasons)
  reasons('Failure reasons (transient: the invocation was retried)', r.failureReasons)

  const events = byName(r.connectionEvents).map(([e, n]) => `${safe(e)} ${count(n)}`)
  const failures = [...r.connectFailures.values()].reduce((a, n) => a + n, 0)
  out.push('', 'Connections', `  ${events.join(', ') || 'no connection events'}`)
  out.push(`  reconnects (a client ID connected again): ${count(r.reconnects)}; failures to connect: ${count(failures)}`)
  for (const { reason, count: n } of top(r.connectFailures, o.top)) out.push(`  ${count(n)} × ${clip(safe(reason))}`)
  if (r.rejected.size > 0) {
    out.push('', 'Rejected (not counted)')
    for (const [why, n] of byName(r.rejected)) out.push(`  ${count(n)} × ${why}`)
  }
  return out
}

function charts(r: LogReport, o: RenderOptions): string[] {
  const { shown, outside } = chartSpan(r)
  if (shown.length === 0) return []
  const [start, end] = [shown[0]!, shown.at(-1)!]
  const minutes = (end - start) / 60_000 + 1
  const per = Math.ceil(minutes / o.chartWidth)
  const columns = Math.ceil(minutes / per)
  const published: Array<number | undefined> = new Array(columns).fill(0)
  const lag: Array<number | undefined> = new Array(columns).fill(undefined)
  for (const t of shown) {
    const b = r.minutes.get(t)!.totals
    const i = Math.floor((t - start) / 60_000 / per)
    published[i]! += b.published
    const p99 = b.lags.quantile(0.99)
    if (p99 !== undefined) lag[i] = Math.max(lag[i] ?? 0, p99)
  }
  const label = (t: number) => minuteLabel(t, o.utc).slice(11)
  const slot = per === 1 ? 'minute' : `${per} minutes`
  const width = Math.max(1, Math.min(3, Math.floor(o.chartWidth / columns)))
  const out = ['', ...barChart({ title: `Published per ${slot}`, values: published, from: label(start), to: label(end) }, 6, width)]
  out.push('', ...barChart({ title: `Lag p99 per ${slot}`, values: lag, from: label(start), to: label(end), unit: 'ms' }, 6, width))
  if (outside.length > 0) {
    const listed = outside.slice(0, 10).map((t) => `${minuteLabel(t, o.utc)} (${count(r.minutes.get(t)!.totals.invocations)} invocations)`)
    out.push(
      `Outside the chart (${count(outside.length)} minutes far from the rest): ${listed.join(', ')}${outside.length > 10 ? ', …' : ''}`,
    )
  }
  return out
}

// A terminal bar chart, eighth blocks topping each bar: people read a shape faster than a column of numbers.
const EIGHTHS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

export interface Series {
  title: string
  values: Array<number | undefined>
  from: string
  to: string
  unit?: string
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1))

/** `height` rows; each slot `columns` characters wide (wider when there are few slots, so the shape shows). */
export function barChart(s: Series, height = 6, columns = 1): string[] {
  const max = Math.max(0, ...s.values.filter((v): v is number => v !== undefined))
  const unit = s.unit ? ` ${s.unit}` : ''
  const top = `${fmt(max)}${unit}`
  const pad = Math.max(top.length, 1)
  const lines = [`${s.title}`]
  for (let row = height; row >= 1; row--) {
    const cells = s.values.map((v) => {
      if (v === undefined || max === 0) return row === 1 && v !== undefined ? '▁' : ' '
      const scaled = (v / max) * height
      if (scaled >= row) return '█'
      if (scaled <= row - 1) return row === 1 && v > 0 ? '▁' : ' '
      return EIGHTHS[Math.max(1, Math.round((scaled - (row - 1)) * 8))]!
    })
    const label = row === height ? top : row === 1 ? `0${unit}` : ''
    lines.push(`${label.padStart(pad)} ${row === 1 ? '┼' : '┤'}${cells.map((c) => c.repeat(columns)).join('')}`)
  }
  const span = s.values.length * columns
  const gap = span - s.from.length - s.to.length
  const axis = gap >= 1 ? `${s.from}${' '.repeat(gap)}${s.to}` : `${s.from} to ${s.to}`
  lines.push(`${' '.repeat(pad)}  ${axis}`)
  return lines
}
