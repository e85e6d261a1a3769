// The bridge's log lines: one per dead letter and per failure (capped, then summed up in one line, so a
// bad batch or an outage cannot flood the logs), one per invocation, and one that counts the messages
// filtered out by `unmatched: skip`, and one for the duplicates (never one per message: both are expected,
// not a problem; the count lines name their rules, so `npm run logs` attributes them). Expired
// messages get a count line per rule (bridge.expired, which `npm run logs` reads) and, capped, one line
// each with its age (bridge.expired-message): with `onExpired: drop` that line is all that is kept.
import type { LogFields, Logger } from '../logging/logger.js'
import type { MessageResult } from './records.js'
import type { Decision, Summary } from './summary.js'

const MAX_DEAD_LETTER_LINES = 100
const MAX_FAILURE_LINES = 20
const MAX_EXPIRED_LINES = 100

export interface InvocationFacts {
  requestId: string
  shape: string
  target: string
  handedOff: boolean
}

export function logInvocation(log: Logger, results: MessageResult[], summary: Summary, decision: Decision, facts: InvocationFacts): void {
  const { requestId } = facts
  const dead: LogFields[] = []
  const failed: LogFields[] = []
  // A Map, not an object: a rule may be called `constructor` or `__proto__`.
  const filtered = new Map<string, number>()
  const duplicates = new Map<string, number>()
  const expiredRules = new Map<string, number>()
  const expired: LogFields[] = []
  for (const r of results) {
    if (r.status === 'filtered') filtered.set(r.ruleId, (filtered.get(r.ruleId) ?? 0) + 1)
    if (r.status === 'duplicate') duplicates.set(r.ruleId, (duplicates.get(r.ruleId) ?? 0) + 1)
    if (r.status === 'expired') {
      expiredRules.set(r.ruleId, (expiredRules.get(r.ruleId) ?? 0) + 1)
      expired.push({
        event: 'bridge.expired-message',
        requestId,
        ruleId: r.ruleId,
        messageId: r.messageId ?? null,
        index: r.index,
        ageMs: r.ageMs,
        deadline: r.deadline,
        from: r.from,
        kept: r.deadLetter ? (facts.handedOff ? 'dead-lettered' : 'dead-letter hand-off failed') : 'dropped',
      })
    }
    if (r.status === 'dead-letter') {
      const d = r.deadLetter
      dead.push({
        event: 'bridge.dead-letter',
        requestId,
        ruleId: d.ruleId ?? null,
        messageId: d.messageId ?? null,
        index: d.index,
        reason: d.reason,
        target: facts.target,
        handedOff: facts.handedOff,
      })
    } else if (r.status === 'failed') {
      const p = r.publish
      failed.push({
        event: 'bridge.failure',
        requestId,
        ruleId: p.ruleId,
        messageId: p.messageId ?? null,
        index: p.index,
        topic: p.topic,
        reason: r.reason,
      })
    }
  }
  if (filtered.size > 0) log.info({ event: 'bridge.filtered', requestId, filtered: summary.filtered, rules: Object.fromEntries(filtered) })
  if (duplicates.size > 0)
    log.info({ event: 'bridge.duplicates', requestId, duplicates: summary.duplicates, rules: Object.fromEntries(duplicates) })
  if (expiredRules.size > 0)
    log.warn({ event: 'bridge.expired', requestId, expired: summary.expired, rules: Object.fromEntries(expiredRules) })
  capped(log, 'warn', expired, MAX_EXPIRED_LINES, requestId)
  capped(log, 'warn', dead, MAX_DEAD_LETTER_LINES, requestId)
  capped(log, 'error', failed, MAX_FAILURE_LINES, requestId)
  const line = { event: 'bridge.invocation', ...summary, shape: facts.shape, outcome: decision.outcome }
  if (decision.outcome === 'ok') log.info(line)
  else log.error(line)
}

function capped(log: Logger, level: 'warn' | 'error', lines: LogFields[], max: number, requestId: string): void {
  for (const line of lines.slice(0, max)) log[level](line)
  if (lines.length > max) {
    const more = lines.length - max
    log[level]({ event: lines[0]!.event, requestId, more, note: `${more} more like the above` })
  }
}
