// The report, as text for people (tables, a chart, the top reasons) and as JSON for machines.
import { type LogReport, NO_TIME, quantile, type Stats, top } from './aggregate.js'
import { barChart, squeeze } from './chart.js'

export interface RenderOptions {
  /** Times in UTC instead of this machine's zone. */
  utc: boolean
  /** Reasons listed per kind. */
  top: number
  /** Minutes listed in the text's per-minute table (the newest); JSON has them all. */
  minutes: number
  /** Columns of the charts, at most. */
  chartWidth: number
}

export const DEFAULT_RENDER: RenderOptions = { utc: false, top: 10, minutes: 30, chartWidth: 60 }

const pad2 = (n: number) => String(n).padStart(2, '0')

export function minuteLabel(t: number, utc: boolean): string {
  if (t === NO_TIME) return '(no time)'
  const d = new Date(t)
  const [y, mo, day, h, mi] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes()]
  return `${y}-${pad2(mo)}-${pad2(day)} ${pad2(h)}:${pad2(mi)}`
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${(ms / 60_000).toFixed(1)} min`
}

const count = (n: number) => n.toLocaleString('en-US')

/** The JSON form of one Stats: counts, and lag quantiles instead of the samples. */
export function statsJson(s: Stats) {
  const { lags, ...counts } = s
  return {
    ...counts,
    lagMs:
      lags.length === 0
        ? null
        : { p50: quantile(lags, 0.5)!, p99: quantile(lags, 0.99)!, max: Math.max(...lags), invocations: lags.length },
  }
}

export function reportJson(r: LogReport, o: RenderOptions = DEFAULT_RENDER) {
  const { all, rules } = r.totals()
  const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString())
  return {
    lines: { read: r.linesRead, bridge: r.bridgeLines, ignored: r.linesRead - r.bridgeLines },
    from: iso(r.first),
    to: iso(r.last),
    totals: statsJson(all),
    rules: Object.fromEntries([...rules].sort(([a], [b]) => a.localeCompare(b)).map(([k, s]) => [k, statsJson(s)])),
    minutes: [...r.minutes]
      .sort(([a], [b]) => a - b)
      .map(([t, b]) => ({
        minute: t === NO_TIME ? null : iso(t),
        totals: statsJson(b.totals),
        rules: Object.fromEntries([...b.rules].sort(([a], [c]) => a.localeCompare(c)).map(([k, s]) => [k, statsJson(s)])),
      })),
    deadLetterReasons: top(r.deadLetterReasons, o.top),
    failureReasons: top(r.failureReasons, o.top),
    connections: { events: Object.fromEntries([...r.connectionEvents].sort()), connectFailures: top(r.connectFailures, o.top) },
  }
}

const COLUMNS = [
  'invocations',
  'received',
  'published',
  'dead-lettered',
  'duplicates',
  'filtered',
  'failed',
  'lag p50',
  'lag p99',
  'lag max',
]

function cells(s: Stats): string[] {
  const max = s.lags.length === 0 ? undefined : Math.max(...s.lags)
  return [
    count(s.invocations),
    count(s.received),
    count(s.published),
    count(s.deadLettered),
    count(s.duplicates),
    count(s.filtered),
    count(s.failed),
    duration(quantile(s.lags, 0.5)),
    duration(quantile(s.lags, 0.99)),
    duration(max),
  ]
}

/** Left-aligned leading text columns, right-aligned numbers. */
function table(head: string[], rows: string[][], textColumns: number): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < textColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), ...rows.map(line)]
}

const clip = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

export function reportText(r: LogReport, o: RenderOptions = DEFAULT_RENDER): string[] {
  const out: string[] = []
  const zone = o.utc ? 'UTC' : 'local time'
  const span = r.first === undefined ? 'no times' : `${minuteLabel(r.first, o.utc)} to ${minuteLabel(r.last!, o.utc).slice(11)} (${zone})`
  out.push(`Bridge logs: ${count(r.linesRead)} lines read, ${count(r.bridgeLines)} from the bridge, ${span}`)
  if (r.bridgeLines === 0) return out
  const { all, rules } = r.totals()
  const outcomes = Object.entries(all.outcomes)
    .sort()
    .map(([k, n]) => `${count(n)} ${k}`)
    .join(', ')

  out.push('', 'Per rule')
  const ruleRows = [...rules].sort(([a], [b]) => a.localeCompare(b)).map(([rule, s]) => [rule, ...cells(s)])
  out.push(...table(['rule', ...COLUMNS], [...ruleRows, ['all rules', ...cells(all)]], 1))
  out.push(`invocations by outcome: ${outcomes || 'none'}`)

  const minutes = [...r.minutes].sort(([a], [b]) => a - b)
  const shown = minutes.slice(-o.minutes)
  out.push(
    '',
    `Per minute${minutes.length > shown.length ? ` (the last ${shown.length}; ${minutes.length - shown.length} earlier in --json)` : ''}`,
  )
  const minuteRows: string[][] = []
  for (const [t, b] of shown) {
    const label = minuteLabel(t, o.utc)
    const perRule = [...b.rules].sort(([a], [c]) => a.localeCompare(c))
    if (perRule.length === 1) minuteRows.push([label, perRule[0]![0], ...cells(b.totals)])
    else {
      minuteRows.push([label, 'all rules', ...cells(b.totals)])
      for (const [rule, s] of perRule) minuteRows.push(['', rule, ...cells(s)])
    }
  }
  out.push(...table(['minute', 'rule', ...COLUMNS], minuteRows, 2))

  const timed = minutes.filter(([t]) => t !== NO_TIME)
  if (timed.length > 0) {
    // Every minute from the first to the last, so gaps show as gaps.
    const start = timed[0]![0]
    const end = timed[timed.length - 1]![0]
    const slots: number[] = []
    for (let t = start; t <= end; t += 60_000) slots.push(t)
    const byMinute = new Map(timed)
    const label = (t: number) => minuteLabel(t, o.utc).slice(11)
    const published = squeeze(
      slots.map((t) => byMinute.get(t)?.totals.published ?? 0),
      o.chartWidth,
      (a, b) => a + b,
    )
    const lag = squeeze(
      slots.map((t) => {
        const lags = byMinute.get(t)?.totals.lags ?? []
        return lags.length === 0 ? undefined : quantile(lags, 0.99)
      }),
      o.chartWidth,
      Math.max,
    )
    const per = Math.ceil(slots.length / Math.min(slots.length, o.chartWidth))
    const slot = per === 1 ? 'minute' : `${per} minutes`
    const columns = Math.max(1, Math.min(3, Math.floor(o.chartWidth / published.length)))
    out.push('', ...barChart({ title: `Published per ${slot}`, values: published, from: label(start), to: label(end) }, 6, columns))
    out.push('', ...barChart({ title: `Lag p99 per ${slot}`, values: lag, from: label(start), to: label(end), unit: 'ms' }, 6, columns))
  }

  const reasons = (title: string, counts: Map<string, number>) => {
    const list = top(counts, o.top)
    out.push('', `${title}${counts.size > list.length ? ` (top ${list.length} of ${counts.size})` : ''}`)
    if (list.length === 0) out.push('  none')
    const width = Math.max(...list.map((x) => count(x.count).length), 1)
    for (const { reason, count: n } of list) out.push(`  ${count(n).padStart(width)} × ${clip(reason)}`)
  }
  reasons('Dead-letter reasons', r.deadLetterReasons)
  reasons('Failure reasons (transient: the invocation was retried)', r.failureReasons)

  out.push('', 'Connections')
  const events = [...r.connectionEvents].sort().map(([e, n]) => `${e} ${count(n)}`)
  out.push(`  ${events.join(', ') || 'no connection events'}`)
  for (const { reason, count: n } of top(r.connectFailures, o.top)) out.push(`  ${count(n)} × ${clip(reason)}`)
  return out
}
