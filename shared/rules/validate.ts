// One validator for every entry point: validate-rules, the command line, the build and the bridge's cold start.
import type { ProblemAt } from '../errors.js'
import { deadlineProblems } from './deadline.js'
import { parseRulesText } from './parse-text.js'
import { PROFILES } from './profiles.js'
import { compileRoutes, routeParents } from './routes.js'
import { defaultsSchema, type Rule, type RuleSet, ruleSchema, rulesFileSchema, type TriggerSettings } from './schema.js'
import { type RuleFacts, semanticProblems } from './semantics.js'
import { valueAt, zodProblems } from './zod-problems.js'

export { parseRulesText } from './parse-text.js'

export type RulesResult = { ok: true; ruleSet: RuleSet } | { ok: false; errors: ProblemAt[] }

export function validateRulesText(text: string): RulesResult {
  const parsed = parseRulesText(text)
  return parsed.ok ? validateRules(parsed.value) : parsed
}

/** Schema, then semantic checks. Every problem is reported, each with its path, even across invalid rules; sorted by path. */
export function validateRules(value: unknown): RulesResult {
  const outer = rulesFileSchema.safeParse(value)
  if (!outer.success) return { ok: false, errors: sortByPath(zodProblems(outer.error, value, [], rulesFileSchema)) }
  const errors: ProblemAt[] = []
  const add = (problems: ProblemAt[]) => {
    for (const p of problems) errors.push(p)
  }
  const defaults = defaultsSchema.safeParse(outer.data.defaults)
  if (!defaults.success) add(zodProblems(defaults.error, outer.data.defaults, ['defaults'], defaultsSchema))
  const d = defaults.success ? defaults.data : defaultsSchema.parse(undefined)
  const profile = PROFILES[d.profile]
  const rules: Rule[] = []
  const facts: RuleFacts[] = outer.data.rules.map((raw, i) => {
    const r = ruleSchema.safeParse(raw)
    if (r.success) {
      const rule: Rule = { ...r.data, target: { ...r.data.target, qos: r.data.target.qos ?? d.qos } }
      rules.push(rule)
      const compiled = compileRoutes(rule, i, profile)
      add(compiled.problems)
      add(orderingProblems(rule, i, d.trigger))
      add(deadlineProblems(rule, i, d))
      const { id, enabled } = rule
      return {
        i,
        id,
        groupId: rule.source.groupId,
        parentTopic: rule.target.parentTopic,
        routeParents: routeParents(compiled.routes),
        enabled,
        rule,
      }
    }
    add(zodProblems(r.error, raw, ['rules', i], ruleSchema))
    const str = (...path: string[]) => {
      const v = valueAt(raw, path)
      return typeof v === 'string' ? v : undefined
    }
    return {
      i,
      id: str('id'),
      groupId: str('source', 'groupId'),
      parentTopic: str('target', 'parentTopic'),
      routeParents: [],
      enabled: valueAt(raw, ['enabled']) !== false,
    }
  })
  add(semanticProblems(profile, facts))
  const ruleSet: RuleSet = {
    profile: d.profile,
    defaultQos: d.qos,
    ...(d.deadline !== undefined ? { defaultDeadline: d.deadline } : {}),
    ...(d.trigger ? { defaultTrigger: d.trigger } : {}),
    rules,
  }
  return errors.length > 0 ? { ok: false, errors: sortByPath(errors) } : { ok: true, ruleSet }
}

/**
 * An ordered rule's trigger waits for each batch (shared/fc/triggers.ts); with errorsTolerance ALL,
 * EventBridge would skip a batch that keeps failing and go on with the rest of its groups, out of order.
 */
function orderingProblems(rule: Rule, i: number, defaults: TriggerSettings | undefined): ProblemAt[] {
  if (rule.ordering !== 'message-group') return []
  const tolerance = rule.trigger?.errorsTolerance ?? defaults?.errorsTolerance
  if (tolerance !== 'ALL') return []
  return [
    {
      path: `rules[${i}].ordering`,
      message: `message-group needs errorsTolerance NONE (${rule.trigger?.errorsTolerance ? 'this rule' : 'defaults.trigger'} says ALL): a batch skipped after its retries would break the order of its groups`,
    },
  ]
}

/** `rules[2]` before `rules[10]`: runs of digits compare as numbers. Stable, so one path keeps its errors' order. */
export function sortByPath(errors: ProblemAt[]): ProblemAt[] {
  const keyed = errors.map((e, k) => ({ e, k, parts: e.path.match(/\d+|\D+/g) ?? [] }))
  keyed.sort((a, b) => comparePaths(a.parts, b.parts) || a.k - b.k)
  return keyed.map((x) => x.e)
}

function comparePaths(x: string[], y: string[]): number {
  for (let k = 0; k < Math.min(x.length, y.length); k++) {
    const p = x[k]!
    const q = y[k]!
    if (p === q) continue
    const numeric = p.charCodeAt(0) <= 57 && p.charCodeAt(0) >= 48 && q.charCodeAt(0) <= 57 && q.charCodeAt(0) >= 48
    return numeric ? Number(p) - Number(q) : p < q ? -1 : 1
  }
  return x.length - y.length
}
