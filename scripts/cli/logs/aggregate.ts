// Bridge log lines -> counts per rule and minute, lag quantiles, top reasons, connections, and the lines that
// break the accounting identity, in bounded memory: every table is a Map (rule names are text from the logs:
// `__proto__`), every list has a cap, and a number that is no whole count is rejected and counted.
// Per-message and count lines wait for their request's bridge.invocation summary (logged last), which splits
// the invocation between the rules they name; the rest goes under UNATTRIBUTED.
import type { BridgeLine } from './parse-line.js'
import { COUNTS, type Count, emptyStats, mergeStats, type Stats, unaccounted } from './stats.js'

export const UNATTRIBUTED = '(unattributed)'
/** The minute keys of lines without a time, and of lines past a month of distinct minutes (counted in totals only). */
export const NO_TIME = -1
export const BEYOND = -2
const MAX_MINUTES = 31 * 24 * 60
/** Lines waiting longer than ORPHAN_AFTER_MS for their summary count without it. */
const MAX_WAITING = 10_000
const ORPHAN_AFTER_MS = 2 * 60_000
/** No batch's count, no message's lag (about 3 years). */
const MAX_COUNT = 10_000_000
const MAX_LAG_MS = 1e11
const MAX_CLIENT_IDS = 100_000
const MAX_LISTED = 20

/** Count lines name each rule's share (`rules: {rule: n}`); per-message lines one message's `ruleId`. */
const COUNT_LINES: Record<string, Count> = { 'bridge.filtered': 'filtered', 'bridge.expired': 'expired', 'bridge.duplicates': 'duplicates' }
const MESSAGE_LINES: Record<string, Count> = {
  'bridge.dead-letter': 'deadLettered',
  'bridge.failure': 'failed',
  'bridge.expired': 'expired',
}
/** The broker could not be reached (shared/mqtt/classify.ts, connectError and closedBeforeConnack). */
const CONNECT_FAILURE =
  /cannot reach the MQTT broker|refused the connection|MQTT connection to \S+ failed|before CONNACK|TLS certificate of the MQTT broker/

interface Waiting {
  firstSeen: number
  time: number | undefined
  /** count -> rule (null: the line named none) -> messages. */
  named: Map<Count, Map<string | null, number>>
  connectFailure: string | undefined
}

interface MinuteBucket {
  totals: Stats
  rules: Map<string, Stats>
}

export interface Unbalanced {
  requestId: string
  time: number | undefined
  counts: Record<Count, number>
}

const bump = <K>(m: Map<K, number>, key: K, n = 1) => m.set(key, (m.get(key) ?? 0) + n)
/** The value under `key`, made and kept first if there is none. */
function entry<K, V>(m: Map<K, V>, key: K, make: () => V): V {
  if (!m.has(key)) m.set(key, make())
  return m.get(key)!
}
const text = (v: unknown, otherwise: string) => (typeof v === 'string' ? v : otherwise)
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_COUNT

export class LogReport {
  linesRead = 0
  bridgeLines = 0
  oversized = 0
  first: number | undefined
  last: number | undefined
  readonly minutes = new Map<number, MinuteBucket>()
  readonly deadLetterReasons = new Map<string, number>()
  readonly failureReasons = new Map<string, number>()
  readonly connectionEvents = new Map<string, number>()
  /** Why connecting failed: mqtt.connect-failed lines, and invocations whose messages failed for want of a connection. */
  readonly connectFailures = new Map<string, number>()
  reconnects = 0
  readonly rejected = new Map<string, number>()
  /** Invocation lines that break received = published + deadLettered + duplicates + filtered + expired + failed. */
  unbalancedLines = 0
  readonly unbalanced: Unbalanced[] = []
  private readonly waiting = new Map<string, Waiting>()
  private readonly clientIds = new Set<string>()
  private lastTime: number | undefined

  add(line: BridgeLine | undefined, now = Date.now()): void {
    this.linesRead++
    if (!line) return
    this.bridgeLines++
    if (line.time !== undefined) {
      this.lastTime = line.time
      if (this.first === undefined || line.time < this.first) this.first = line.time
      if (this.last === undefined || line.time > this.last) this.last = line.time
    }
    const time = line.time ?? this.lastTime
    const f = line.fields
    const requestId = line.requestId ?? '(no request ID)'
    const perMessage = MESSAGE_LINES[f.event]
    const perRule = COUNT_LINES[f.event]
    if (f.event === 'bridge.invocation') this.invocation(f, requestId, time)
    else if (perMessage && f['rules'] === undefined) this.message(f, perMessage, this.wait(requestId, time, now))
    else if (perRule) this.counted(f, perRule, this.wait(requestId, time, now))
    // Per-message detail of what a count line counted (bridge.expired-message): counted there already.
    else if (f.event !== 'bridge.expired-message') this.connection(f)
  }

  private connection(f: BridgeLine['fields']): void {
    bump(this.connectionEvents, f.event)
    // The fleet store's Redis is a connection the bridge depends on too (docs/operations.md, "With the fleet store").
    if (f.event === 'mqtt.connect-failed') bump(this.connectFailures, text(f['reason'], '(no reason)'))
    else if (f.event === 'fleet.connect-failed') bump(this.connectFailures, `fleet store: ${text(f['reason'], '(no reason)')}`)
    if (f.event === 'mqtt.connected' && typeof f['clientId'] === 'string') {
      if (this.clientIds.has(f['clientId'])) this.reconnects++
      else if (this.clientIds.size < MAX_CLIENT_IDS) this.clientIds.add(f['clientId'])
    }
  }

  private wait(requestId: string, time: number | undefined, now: number): Waiting {
    // The oldest waiting first: a log that never writes its summaries cannot grow this without end.
    if (!this.waiting.has(requestId) && this.waiting.size >= MAX_WAITING) this.flushOrphans(now, 1)
    return entry(this.waiting, requestId, () => ({ firstSeen: now, time, named: new Map(), connectFailure: undefined }))
  }

  private message(f: BridgeLine['fields'], count: Count, w: Waiting): void {
    const reasons = count === 'deadLettered' ? this.deadLetterReasons : count === 'failed' ? this.failureReasons : undefined
    const more = f['more']
    if (more !== undefined) {
      if (!isCount(more)) bump(this.rejected, `${f.event} "more" that is not a whole number from 0 to ${MAX_COUNT}`)
      else if (reasons) bump(reasons, `(${more} more, not itemised in the log)`, more)
      return
    }
    const reason = text(f['reason'], '(no reason)')
    if (reasons) bump(reasons, reason)
    if (count === 'failed' && CONNECT_FAILURE.test(reason)) w.connectFailure ??= reason
    bump(
      entry(w.named, count, () => new Map()),
      typeof f['ruleId'] === 'string' ? f['ruleId'] : null,
    )
  }

  private counted(f: BridgeLine['fields'], count: Count, w: Waiting): void {
    const rules = f['rules']
    if (typeof rules !== 'object' || rules === null) {
      bump(this.rejected, `${f.event} without its rules`)
      return
    }
    const named = entry(w.named, count, () => new Map<string | null, number>())
    for (const [rule, n] of Object.entries(rules)) {
      if (isCount(n)) bump(named, rule, n)
      else bump(this.rejected, `${f.event} with a count that is not a whole number from 0 to ${MAX_COUNT}`)
    }
  }

  private bucket(time: number | undefined): MinuteBucket {
    let key = time === undefined ? NO_TIME : Math.floor(time / 60_000) * 60_000
    if (!this.minutes.has(key) && this.minutes.size >= MAX_MINUTES) key = BEYOND
    return entry(this.minutes, key, () => ({ totals: emptyStats(), rules: new Map() }))
  }

  private invocation(f: BridgeLine['fields'], requestId: string, time: number | undefined): void {
    const w = this.waiting.get(requestId)
    this.waiting.delete(requestId)
    const counts = {} as Record<Count, number>
    for (const c of COUNTS) {
      const v = f[c] ?? 0
      if (!isCount(v)) {
        bump(this.rejected, `bridge.invocation with ${c} not a whole number from 0 to ${MAX_COUNT}`)
        return
      }
      counts[c] = v
    }
    let lag: number | undefined
    if (typeof f['lagMs'] === 'number' && f['lagMs'] >= 0 && f['lagMs'] <= MAX_LAG_MS) lag = f['lagMs']
    else if (f['lagMs'] !== undefined && f['lagMs'] !== null)
      bump(this.rejected, `lagMs not a number from 0 to ${MAX_LAG_MS} (the lag only)`)
    const outcome = text(f['outcome'], 'ok')
    if (unaccounted(counts) !== 0) {
      this.unbalancedLines++
      if (this.unbalanced.length < MAX_LISTED) this.unbalanced.push({ requestId, time, counts })
    }
    if (w?.connectFailure) bump(this.connectFailures, w.connectFailure)
    const b = this.bucket(time)
    addTo(b.totals, counts, outcome, lag)
    // Published per rule from the summary; the rest from the lines that name rules.
    const named = new Map<Count, Map<string | null, number>>(w?.named ?? [])
    const published = f['rules']
    if (typeof published === 'object' && published !== null)
      named.set('published', new Map(Object.entries(published).filter((e): e is [string, number] => isCount(e[1]) && e[1] > 0)))
    const rules = new Set<string>()
    for (const m of named.values()) for (const rule of m.keys()) if (rule !== null) rules.add(rule)
    if (rules.size <= 1) {
      addTo(entry(b.rules, rules.size === 1 ? [...rules][0]! : UNATTRIBUTED, emptyStats), counts, outcome, lag)
      return
    }
    const rest = { ...counts }
    for (const rule of rules) {
      const part = {} as Record<Count, number>
      for (const c of COUNTS) part[c] = c === 'received' ? 0 : Math.min(rest[c], named.get(c)?.get(rule) ?? 0)
      part.received = part.published + part.deadLettered + part.duplicates + part.filtered + part.expired + part.failed
      for (const c of COUNTS) rest[c] -= part[c]
      addTo(entry(b.rules, rule, emptyStats), part, outcome, lag)
    }
    if (COUNTS.some((c) => rest[c] !== 0)) addTo(entry(b.rules, UNATTRIBUTED, emptyStats), rest, outcome, undefined, 0)
  }

  /** Per-message lines whose summary never came (cut off by the window, or lost): counted under their rules, without an invocation. */
  flushOrphans(now = Date.now(), limit = Number.POSITIVE_INFINITY, all = false): void {
    for (const [id, w] of this.waiting) {
      if (limit <= 0) break
      if (!all && limit === Number.POSITIVE_INFINITY && now - w.firstSeen < ORPHAN_AFTER_MS) continue
      limit--
      this.waiting.delete(id)
      const b = this.bucket(w.time)
      for (const [count, m] of w.named)
        for (const [rule, n] of m) {
          const counts = Object.fromEntries(COUNTS.map((c) => [c, c === count || c === 'received' ? n : 0])) as Record<Count, number>
          addTo(b.totals, counts, undefined, undefined, 0)
          addTo(entry(b.rules, rule ?? UNATTRIBUTED, emptyStats), counts, '', undefined, 0)
        }
    }
  }

  dropBefore(since: number): void {
    for (const key of this.minutes.keys()) if (key !== NO_TIME && key !== BEYOND && key < since) this.minutes.delete(key)
  }

  totals(): { all: Stats; rules: Map<string, Stats> } {
    const all = emptyStats()
    const rules = new Map<string, Stats>()
    for (const b of this.minutes.values()) {
      mergeStats(all, b.totals)
      for (const [rule, s] of b.rules) mergeStats(entry(rules, rule, emptyStats), s)
    }
    return { all, rules }
  }
}

function addTo(s: Stats, counts: Record<Count, number>, outcome: string | undefined, lag: number | undefined, invocations = 1): void {
  s.invocations += invocations
  if (invocations > 0 && outcome !== undefined) s.outcomes.set(outcome, (s.outcomes.get(outcome) ?? 0) + invocations)
  for (const c of COUNTS) s[c] += counts[c]
  if (lag !== undefined) s.lags.add(lag)
}

export function top(counts: Map<string, number>, n: number): Array<{ reason: string; count: number }> {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([reason, count]) => ({ reason, count }))
}
