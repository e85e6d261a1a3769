// One validator for every entry point: validate-rules, the command line, the build and the bridge's cold
// start. Every problem at once, from the schema, the semantics and the routes, each with its path, sorted by
// path: a rule that fails its schema still has its routes and its place among the other rules checked.
import type { ProblemAt } from '../errors.js'
import { type CompiledRule, compileRule, modelOf, type RuleModel } from './model.js'
import { parseRulesText } from './parse-text.js'
import { PROFILES } from './profiles.js'
import { type CompiledRoute, compileRoutes, type RoutedRule } from './route.js'
import { defaultsSchema, MAX_RULES, type Rule, type RuleSet, ruleSchema, rulesFileSchema, type TriggerSettings } from './schema.js'
import { type RuleFacts, semanticProblems } from './semantics.js'
import { TAGS } from './source.js'
import { valueAt, zodProblems } from './zod-problems.js'

export { parseRulesText } from './parse-text.js'

/** The rule set with every default filled in, and its compiled model (shared/rules/model.ts); or every error. */
export type RulesResult = { ok: true; ruleSet: RuleSet; model: RuleModel } | { ok: false; errors: ProblemAt[] }

export function validateRulesText(text: string): RulesResult {
  const parsed = parseRulesText(text)
  return parsed.ok ? validateRules(parsed.value) : parsed
}

/** Schema, routes, then checks across rules. Every problem is reported, each with its path, even across invalid rules; sorted by path. */
export function validateRules(value: unknown): RulesResult {
  const errors: ProblemAt[] = []
  const add = (problems: ProblemAt[]) => {
    for (const p of problems) errors.push(p)
  }
  const outer = rulesFileSchema.safeParse(value)
  let file: { defaults?: unknown; rules: unknown[] }
  if (outer.success) file = outer.data
  else {
    add(zodProblems(outer.error, value, [], rulesFileSchema))
    // A stray key beside a usable rules list hides nothing: the rules are checked all the same.
    const rules = valueAt(value, ['rules'])
    if (!Array.isArray(rules) || rules.length > MAX_RULES) return { ok: false, errors: sortByPath(errors) }
    file = { defaults: valueAt(value, ['defaults']), rules: Array.from(rules) }
  }
  const defaults = defaultsSchema.safeParse(file.defaults)
  if (!defaults.success) add(zodProblems(defaults.error, file.defaults, ['defaults'], defaultsSchema))
  const d = defaults.success ? defaults.data : defaultsSchema.parse(undefined)
  const profile = PROFILES[d.profile]
  const rules: Rule[] = []
  const compiled: CompiledRule[] = []
  const facts: RuleFacts[] = file.rules.map((raw, i) => {
    const r = ruleSchema.safeParse(raw)
    if (r.success) {
      const rule: Rule = { ...r.data, target: { ...r.data.target, qos: r.data.target.qos ?? d.qos } }
      rules.push(rule)
      const c = compileRule(rule, i, profile)
      add(c.problems)
      if (c.compiled) compiled.push(c.compiled)
      add(orderingProblems(rule, i, d.trigger))
      return {
        i,
        id: rule.id,
        groupId: rule.source.groupId,
        parentTopic: rule.target.parentTopic,
        routes: routeFacts(c.routes),
        enabled: rule.enabled,
        rule,
      }
    }
    add(zodProblems(r.error, raw, ['rules', i], ruleSchema))
    // The routes that pass their own schema are checked all the same, with what the rest of the rule allows.
    const routes = compileRoutes(routedRule(raw), i, profile)
    add(routes.problems)
    return {
      i,
      id: text(raw, 'id'),
      groupId: text(raw, 'source', 'groupId'),
      parentTopic: text(raw, 'target', 'parentTopic'),
      routes: routeFacts(routes.routes),
      enabled: valueAt(raw, ['enabled']) !== false,
    }
  })
  add(semanticProblems(profile, facts))
  if (errors.length > 0) return { ok: false, errors: sortByPath(errors) }
  const ruleSet: RuleSet = { profile: d.profile, defaultQos: d.qos, ...(d.trigger ? { defaultTrigger: d.trigger } : {}), rules }
  return { ok: true, ruleSet, model: modelOf(profile, compiled) }
}

function text(raw: unknown, ...path: string[]): string | undefined {
  const v = valueAt(raw, path)
  return typeof v === 'string' ? v : undefined
}

/** What the routes' checks need of a rule, each part taken only when it is valid on its own. */
function routedRule(raw: unknown): RoutedRule {
  const routes = valueAt(raw, ['routes'])
  const tags = text(raw, 'source', 'tags')
  const encoding = valueAt(raw, ['target', 'bodyEncoding'])
  const unmatched = valueAt(raw, ['unmatched'])
  return {
    ...(Array.isArray(routes) ? { routes } : {}),
    ...(tags !== undefined && TAGS.test(tags) ? { tags } : {}),
    ...(encoding === 'base64' || encoding === 'utf8' ? { bodyEncoding: encoding } : {}),
    ...(unmatched === 'skip' || unmatched === 'target' ? { unmatched } : {}),
  }
}

const routeFacts = (routes: Array<CompiledRoute | undefined>): RuleFacts['routes'] =>
  routes.flatMap((r, j) => (r ? [{ j, topic: r.topic, anyParent: r.anyParent }] : []))

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
