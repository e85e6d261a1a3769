// One validator for every entry point: validate-rules, the command line, the build and the bridge's cold start.
import YAML from 'yaml'
import type { ZodError } from 'zod'
import { formatPath, type ProblemAt } from './errors.js'
import { PROFILES } from './profiles.js'
import { defaultsSchema, ruleSchema, rulesFileSchema, type Rule, type RuleSet } from './rules-schema.js'
import { parentTopicProblem, quote } from './topics.js'

export type RulesResult = { ok: true; ruleSet: RuleSet } | { ok: false; errors: ProblemAt[] }

/** YAML aliases are capped so a crafted document ("billion laughs") cannot blow up memory. */
const MAX_ALIAS_COUNT = 100

/** Parses YAML or JSON text (JSON is YAML). Syntax errors come back with line and column. */
export function parseRulesText(text: string): { ok: true; value: unknown } | { ok: false; errors: ProblemAt[] } {
  const doc = YAML.parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => ({ path: at(e.linePos?.[0]), message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') })) }
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) }
  } catch (err) {
    return { ok: false, errors: [{ path: '(document)', message: err instanceof Error ? err.message : String(err) }] }
  }
}

function at(pos?: { line: number; col: number }): string {
  return pos ? `(line ${pos.line}, column ${pos.col})` : '(document)'
}

export function validateRulesText(text: string): RulesResult {
  const parsed = parseRulesText(text)
  return parsed.ok ? validateRules(parsed.value) : parsed
}

/** Schema, then semantic checks over the rules that passed it. Every problem is reported, each with its path. */
export function validateRules(value: unknown): RulesResult {
  const outer = rulesFileSchema.safeParse(value)
  if (!outer.success) return { ok: false, errors: zodProblems(outer.error, value, []) }
  const errors: ProblemAt[] = []
  const defaults = defaultsSchema.safeParse(outer.data.defaults)
  if (!defaults.success) errors.push(...zodProblems(defaults.error, outer.data.defaults, ['defaults']))
  const d = defaults.success ? defaults.data : defaultsSchema.parse(undefined)
  const rules: Rule[] = []
  const indices: number[] = []
  outer.data.rules.forEach((raw, i) => {
    const r = ruleSchema.safeParse(raw)
    if (!r.success) {
      errors.push(...zodProblems(r.error, raw, ['rules', i]))
      // A parent topic's own problems do not depend on the rest of the rule: report them too, so all errors come at once.
      const parent = valueAt(raw, ['target', 'parentTopic'])
      const parentProblem = typeof parent === 'string' ? parentTopicProblem(parent, PROFILES[d.profile]) : undefined
      if (parentProblem) errors.push({ path: `rules[${i}].target.parentTopic`, message: parentProblem })
      return
    }
    rules.push({ ...r.data, target: { ...r.data.target, qos: r.data.target.qos ?? d.qos } })
    indices.push(i)
  })
  const ruleSet: RuleSet = { profile: d.profile, defaultQos: d.qos, ...(d.trigger ? { defaultTrigger: d.trigger } : {}), rules }
  errors.push(...semanticProblems(ruleSet, indices, outer.data.rules.length))
  return errors.length > 0 ? { ok: false, errors } : { ok: true, ruleSet }
}

function semanticProblems(set: RuleSet, indices: number[], totalRules: number): ProblemAt[] {
  const profile = PROFILES[set.profile]
  const errors: ProblemAt[] = []
  const firstWith = (key: (r: Rule) => string, r: Rule, i: number, seen: Map<string, number>): number | undefined => {
    const k = key(r)
    const earlier = seen.get(k)
    if (earlier === undefined) seen.set(k, i)
    return earlier
  }
  const ids = new Map<string, number>()
  const groups = new Map<string, number>()
  const parents = new Map<string, number>()
  set.rules.forEach((rule, k) => {
    const i = indices[k]!
    const p = `rules[${i}]`
    const dupId = firstWith((r) => r.id, rule, i, ids)
    if (dupId !== undefined) errors.push({ path: `${p}.id`, message: `duplicate id ${quote(rule.id)}, already used by rules[${dupId}]` })
    const dupGroup = firstWith((r) => r.source.groupId, rule, i, groups)
    if (dupGroup !== undefined) errors.push({ path: `${p}.source.groupId`, message: `duplicate groupId ${quote(rule.source.groupId)}, already used by rules[${dupGroup}]; each trigger needs its own consumer group` })
    const topicProblem = parentTopicProblem(rule.target.parentTopic, profile)
    if (topicProblem) errors.push({ path: `${p}.target.parentTopic`, message: topicProblem })
    if (rule.enabled) {
      const dupParent = firstWith((r) => r.target.parentTopic, rule, i, parents)
      if (dupParent !== undefined) errors.push({ path: `${p}.target.parentTopic`, message: `parent topic ${quote(rule.target.parentTopic)} already has an enabled rule (rules[${dupParent}]); at most one enabled rule per MQTT parent topic` })
    }
  })
  // Two enabled rules that could both match one message would publish it twice, once per trigger.
  const enabled = set.rules.map((r, k) => ({ r, i: indices[k]! })).filter(({ r }) => r.enabled)
  for (let a = 0; a < enabled.length; a++) {
    for (let b = a + 1; b < enabled.length; b++) {
      const x = enabled[a]!, y = enabled[b]!
      if (x.r.source.instanceId === y.r.source.instanceId && x.r.source.topic === y.r.source.topic && tagsOverlap(x.r.source.tags, y.r.source.tags)) {
        errors.push({ path: `rules[${y.i}].source.tags`, message: `overlaps rules[${x.i}] (same instance and topic, tags ${quote(x.r.source.tags)} and ${quote(y.r.source.tags)}): a message would match both rules` })
      }
    }
  }
  if (profile.maxRules !== undefined && totalRules > profile.maxRules) {
    errors.push({ path: 'rules', message: `has ${totalRules} rules; profile ${profile.name} allows at most ${profile.maxRules} per MQTT instance` })
  }
  if (profile.maxParentTopics !== undefined && parents.size > profile.maxParentTopics) {
    errors.push({ path: 'rules', message: `enabled rules use ${parents.size} parent topics; profile ${profile.name} allows at most ${profile.maxParentTopics} per MQTT instance` })
  }
  return errors
}

export function tagSet(tags: string): Set<string> | '*' {
  return tags === '*' ? '*' : new Set(tags.split('||'))
}

function tagsOverlap(a: string, b: string): boolean {
  const x = tagSet(a), y = tagSet(b)
  if (x === '*' || y === '*') return true
  for (const t of x) if (y.has(t)) return true
  return false
}

function zodProblems(error: ZodError, input: unknown, prefix: PropertyKey[]): ProblemAt[] {
  return error.issues.flatMap((issue) => {
    // An unknown key is reported on its own path, so the user sees exactly which key to fix.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ path: formatPath([...prefix, ...issue.path, k]), message: `unknown key ${quote(k)}` }))
    }
    const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined
    const notObject = issue.code === 'invalid_type' && issue.expected === 'object' && issue.message.startsWith('Invalid input')
    return [{ path: formatPath([...prefix, ...issue.path]), message: missing ? 'is required' : notObject ? 'must be a mapping (key: value pairs)' : issue.message }]
  })
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<PropertyKey, unknown>)[key]
  }
  return v
}
