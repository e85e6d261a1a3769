// Records -> the invocation's summary and its one decision: return it, or throw the error that makes
// Function Compute retry (a transient failure), or the one that keeps dead letters from being lost.
// Pure: no clock, no I/O; everything it needs comes in.
import { type Verdict, verdictLedger } from '../dead-letters/record.js'
import { DeadLetterError, DeliveryError, messageOf } from '../errors.js'
import type { ParsedEvent } from '../events/message.js'
import { indexOf, type MessageResult } from './records.js'

export interface Summary {
  requestId: string
  received: number
  published: number
  deadLettered: number
  /**
   * Messages this instance had already delivered (same message ID, rule and content), repeated in the batch, or
   * (with FLEET_REDIS_URL) completed by any instance within DUPLICATE_WINDOW: not published again.
   */
  duplicates: number
  /** Messages no route accepts, in rules that say `unmatched: skip`: neither published nor dead-lettered. */
  filtered: number
  /** Messages past their delivery deadline: never published (docs/rules.md, "Delivery deadlines"). */
  expired: number
  /**
   * Messages not delivered for a transient reason (the broker; with a fleet store also a claim held by another
   * invocation, or the store failing); non-zero only in the error thrown.
   */
  failed: number
  durationMs: number
  /** How long the oldest message waited between its CloudEvent time and its publish; null without times. */
  lagMs: number | null
  /** Published messages per rule. */
  rules: Record<string, number>
  /** MQTT 5 property sets left out on a 3.1.1 connection. */
  droppedV5Properties: number
}

export type Decision =
  | { outcome: 'ok' }
  | { outcome: 'retry'; error: DeliveryError }
  | { outcome: 'dead-letter-failed'; error: DeadLetterError }

export interface SummaryInput {
  requestId: string
  received: number
  results: MessageResult[]
  startedAt: number
  publishedAt: number
  finishedAt: number
  /** The earliest CloudEvent time of the batch (epoch ms), if any message had one. */
  oldestTime: number | undefined
  droppedV5Properties: number
  /** How many messages were handed to the broker (not duplicates, not poison from planning). */
  sent: number
  /** Set when the dead letters could not be handed off. */
  handOffError?: DeadLetterError
  /** Masks the invocation's secrets in the reasons of the error thrown. */
  redact: (text: string) => string
}

export function summarize(input: SummaryInput): { summary: Summary; decision: Decision } {
  // A Map, not an object: a rule may be called `constructor` or `__proto__`.
  const rules = new Map<string, number>()
  const failures: string[] = []
  let published = 0
  let deadLettered = 0
  let duplicates = 0
  let filtered = 0
  let expired = 0
  for (const r of input.results) {
    if (r.status === 'published') {
      published++
      rules.set(r.publish.ruleId, (rules.get(r.publish.ruleId) ?? 0) + 1)
    } else if (r.status === 'dead-letter') deadLettered++
    else if (r.status === 'duplicate') duplicates++
    else if (r.status === 'filtered') filtered++
    else if (r.status === 'expired') expired++
    else failures.push(r.reason)
  }
  const summary: Summary = {
    requestId: input.requestId,
    received: input.received,
    published,
    deadLettered: input.handOffError ? 0 : deadLettered,
    duplicates,
    filtered,
    expired,
    failed: failures.length,
    durationMs: input.finishedAt - input.startedAt,
    lagMs: input.oldestTime === undefined ? null : Math.max(0, input.publishedAt - input.oldestTime),
    rules: Object.fromEntries(rules),
    droppedV5Properties: input.droppedV5Properties,
  }
  if (failures.length > 0) {
    const reasons = countReasons(failures)
    if (input.handOffError) reasons.push(input.handOffError.message)
    const error = new DeliveryError(failures.length, input.sent, reasons.map(input.redact), ledgerOf(input))
    return { summary, decision: { outcome: 'retry', error } }
  }
  if (input.handOffError) {
    // Through the invocation's redactor too: the cause may come from anywhere the hand-off went.
    const e = input.handOffError
    const error = new DeadLetterError(e.target, e.count, new Error(input.redact(messageOf(e.cause))), ledgerOf(input))
    return { summary, decision: { outcome: 'dead-letter-failed', error } }
  }
  return { summary, decision: { outcome: 'ok' } }
}

/**
 * Each entry's verdict, for the dead-letter function: should the retries run out, it stores only the
 * entries still to deliver, each under its own verdict. An entry with several records takes the weightiest.
 */
function ledgerOf(input: SummaryInput): string {
  const verdicts = new Array<Verdict>(input.received).fill('failed')
  const seen = new Set<number>()
  for (const r of input.results) {
    const i = indexOf(r)
    const stored = r.status === 'dead-letter' || (r.status === 'expired' && r.deadLetter !== undefined)
    const v: Verdict = stored && input.handOffError ? 'not-handed-off' : r.status
    if (i >= 0 && i < input.received && (!seen.has(i) || WEIGHT.indexOf(v) > WEIGHT.indexOf(verdicts[i]!))) verdicts[i] = v
    seen.add(i)
  }
  return verdictLedger(verdicts)
}
const WEIGHT: readonly Verdict[] = ['filtered', 'expired', 'duplicate', 'published', 'dead-letter', 'not-handed-off', 'failed']

/** The earliest CloudEvent `time` of the batch, in epoch ms. */
export function oldestTime(parsed: ParsedEvent): number | undefined {
  let oldest = Number.POSITIVE_INFINITY
  for (const m of parsed.messages) {
    if (m.time === undefined) continue
    const t = Date.parse(m.time)
    if (t < oldest) oldest = t
  }
  return oldest === Number.POSITIVE_INFINITY ? undefined : oldest
}

/** ["x", "x", "y"] -> ["2 × x", "1 × y"], most frequent first. */
function countReasons(reasons: string[]): string[] {
  const counts = new Map<string, number>()
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} × ${r}`)
}
