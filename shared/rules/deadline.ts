// Delivery deadlines in the rules file (docs/rules.md, "Delivery deadlines"): `defaults.deadline`, and per
// rule `target.deadline`, `target.deadlineFrom` and `target.onExpired`; a route may set its own `deadline`.
// The schemas, the checks across fields, and the compiled form the mapping evaluates (mapping/deadline.ts).
import { z } from 'zod'
import { DAY_MS, formatDuration, parseDuration } from '../duration.js'
import type { ProblemAt } from '../errors.js'
import { error } from '../schema-helpers.js'
import { DEFAULT_TRIGGER_SETTINGS } from './trigger-defaults.js'

const MIN_MS = 1000
const MAX_MS = 7 * DAY_MS

/** `30s`, `10m`, `2h`, `7d`: from 1 s to 7 d. Kept as written; compiled to milliseconds below. */
export const deadlineSchema = z.string(error('must be a duration such as 30s, 10m, 2h or 7d')).superRefine((text, ctx) => {
  const ms = parseDuration(text)
  if (ms === undefined)
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: 'must be a duration such as 30s, 10m, 2h or 7d (an integer, then ms, s, m, h or d)',
    })
  else if (ms < MIN_MS || ms > MAX_MS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be from 1s to 7d, got ${text}` })
})

/** `userProperties.<name>`: the user property holding the producer's send time (epoch ms or ISO 8601). */
export const deadlineFromSchema = z
  .string(error('must be userProperties.<name>'))
  .regex(/^userProperties\.[^\s]+$/, "must be userProperties.<name>: the user property holding the producer's send time")

export const onExpiredSchema = z.enum(['dead-letter', 'drop'], error('must be dead-letter (the default) or drop'))

/** A deadline as the mapping evaluates it. */
export interface Deadline {
  /** As written in the rules file, for messages and the preview. */
  text: string
  ms: number
  /** The user property holding the producer's send time; without it the age counts from the event's time. */
  from?: string
  onExpired: 'dead-letter' | 'drop'
}

/** What the deadline needs of a rule (schema.ts holds the full type). */
export interface DeadlinedRule {
  target: { deadline?: string | undefined; deadlineFrom?: string | undefined; onExpired?: 'dead-letter' | 'drop' | undefined }
  routes?: Array<{ deadline?: string | undefined }> | undefined
  trigger?: { batchWindowSeconds?: number | undefined } | undefined
}

/** The rule's deadline for its target, or for route `route`: the route's own, else the rule's, else the default. */
export function compileDeadline(rule: DeadlinedRule, defaultDeadline: string | undefined, route?: number): Deadline | undefined {
  const text = (route === undefined ? undefined : rule.routes?.[route]?.deadline) ?? rule.target.deadline ?? defaultDeadline
  if (text === undefined) return undefined
  const d: Deadline = { text, ms: parseDuration(text)!, onExpired: rule.target.onExpired ?? 'dead-letter' }
  const from = rule.target.deadlineFrom
  if (from !== undefined) d.from = from.slice('userProperties.'.length)
  return d
}

/**
 * Settings that would be ignored, and a deadline the trigger cannot meet: EventBridge holds messages for up to
 * its batching window before it pushes them (docs/platform-facts.md, "The push interval").
 */
export function deadlineProblems(
  rule: DeadlinedRule,
  i: number,
  defaults: { deadline?: string | undefined; trigger?: { batchWindowSeconds?: number | undefined } | undefined },
): ProblemAt[] {
  const problems: ProblemAt[] = []
  const at = (path: string, message: string) => problems.push({ path: `rules[${i}].${path}`, message })
  const anyDeadline =
    rule.target.deadline !== undefined || defaults.deadline !== undefined || (rule.routes ?? []).some((r) => r.deadline !== undefined)
  if (!anyDeadline) {
    if (rule.target.deadlineFrom !== undefined)
      at('target.deadlineFrom', 'has no effect: neither the rule, its routes nor defaults set a deadline')
    if (rule.target.onExpired !== undefined)
      at('target.onExpired', 'has no effect: neither the rule, its routes nor defaults set a deadline')
  }
  // The window the trigger will have: the rule's, else defaults.trigger's, else the triggers' own default.
  const windowSeconds =
    rule.trigger?.batchWindowSeconds ?? defaults.trigger?.batchWindowSeconds ?? DEFAULT_TRIGGER_SETTINGS.batchWindowSeconds
  if (windowSeconds === 0) return problems
  const windowMs = windowSeconds * 1000
  const check = (path: string, text: string | undefined, inherited = false) => {
    const ms = text === undefined ? undefined : parseDuration(text)
    if (ms !== undefined && ms <= windowMs)
      at(
        path,
        `${text}${inherited ? ' (defaults.deadline)' : ''} is not longer than the trigger's batching window (batchWindowSeconds ${windowSeconds}): EventBridge may hold a message ${formatDuration(windowMs)} before the bridge sees it, so messages could expire before they arrive`,
      )
  }
  check('target.deadline', rule.target.deadline ?? defaults.deadline, rule.target.deadline === undefined)
  for (const [j, r] of (rule.routes ?? []).entries()) check(`routes[${j}].deadline`, r.deadline)
  return problems
}
