// One validator for every entry point: validate-rules, the command line, the build and the bridge's cold start.
import YAML from 'yaml'
import type { ZodError } from 'zod'
import { formatPath, messageOf, type ProblemAt } from '../errors.js'
import { nestingProblem } from './nesting.js'
import { PROFILES, type Profile } from './profiles.js'
import { defaultsSchema, type Rule, type RuleSet, ruleSchema, rulesFileSchema } from './schema.js'
import { tagsOverlap } from './tags.js'
import { parentTopicProblem, quote } from './topics.js'

export type RulesResult = { ok: true; ruleSet: RuleSet } | { ok: false; errors: ProblemAt[] }

/** YAML aliases are capped so a crafted document ("billion laughs") cannot blow up memory. */
const MAX_ALIAS_COUNT = 100

/** Parses YAML or JSON text (JSON is YAML). Syntax errors come back with line and column. */
export function parseRulesText(text: string): { ok: true; value: unknown } | { ok: false; errors: ProblemAt[] } {
  // The YAML parser recurses: a document nested thousands deep would exhaust the stack or the heap.
  const tooDeep = nestingProblem(text)
  if (tooDeep) return { ok: false, errors: [{ path: '(document)', message: tooDeep }] }
  // JSON is YAML, but JSON.parse is many times faster; YAML then explains any syntax error with its position.
  if (/^\s*[[{]/.test(text)) {
    try {
      return { ok: true, value: JSON.parse(text) }
    } catch {
      // fall through to the YAML parser
    }
  }
  const doc = YAML.parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: at(e.linePos?.[0]),
        message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
      })),
    }
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) }
  } catch (err) {
    return { ok: false, errors: [{ path: '(document)', message: messageOf(err) }] }
  }
}

function at(pos?: { line: number; col: number }): string {
  return pos ? `(line ${pos.line}, column ${pos.col})` : '(document)'
}

export function validateRulesText(text: string): RulesResult {
  const parsed = parseRulesText(text)
  return parsed.ok ? validateRules(parsed.value) : parsed
}

/** What the cross-rule checks read from a rule, taken from the raw rule when it failed the schema. */
interface RuleFacts {
  i: number
  id?: string
  groupId?: string
  parentTopic?: string
  enabled: boolean
  /** Present when the whole rule passed the schema. */
  rule?: Rule
}

/** Schema, then semantic checks. Every problem is reported, each with its path, even across invalid rules. */
export function validateRules(value: unknown): RulesResult {
  const outer = rulesFileSchema.safeParse(value)
  if (!outer.success) return { ok: false, errors: zodProblems(outer.error, value, []) }
  const errors: ProblemAt[] = []
  const defaults = defaultsSchema.safeParse(outer.data.defaults)
  if (!defaults.success) errors.push(...zodProblems(defaults.error, outer.data.defaults, ['defaults']))
  const d = defaults.success ? defaults.data : defaultsSchema.parse(undefined)
  const rules: Rule[] = []
  const facts: RuleFacts[] = outer.data.rules.map((raw, i) => {
    const r = ruleSchema.safeParse(raw)
    if (r.success) {
      const rule: Rule = { ...r.data, target: { ...r.data.target, qos: r.data.target.qos ?? d.qos } }
      rules.push(rule)
      return { i, id: rule.id, groupId: rule.source.groupId, parentTopic: rule.target.parentTopic, enabled: rule.enabled, rule }
    }
    errors.push(...zodProblems(r.error, raw, ['rules', i]))
    const str = (...path: string[]) => {
      const v = valueAt(raw, path)
      return typeof v === 'string' ? v : undefined
    }
    return {
      i,
      id: str('id'),
      groupId: str('source', 'groupId'),
      parentTopic: str('target', 'parentTopic'),
      enabled: valueAt(raw, ['enabled']) !== false,
    }
  })
  errors.push(...semanticProblems(PROFILES[d.profile], facts))
  const ruleSet: RuleSet = { profile: d.profile, defaultQos: d.qos, ...(d.trigger ? { defaultTrigger: d.trigger } : {}), rules }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, ruleSet }
}

function semanticProblems(profile: Profile, facts: RuleFacts[]): ProblemAt[] {
  const errors: ProblemAt[] = []
  const ids = new Map<string, number>()
  const groups = new Map<string, number>()
  const parents = new Map<string, number>()
  /** The index of an earlier rule with the same value, remembering this one otherwise. */
  const earlier = (seen: Map<string, number>, value: string | undefined, i: number): number | undefined => {
    if (value === undefined) return undefined
    const first = seen.get(value)
    if (first === undefined) seen.set(value, i)
    return first
  }
  for (const f of facts) {
    const p = `rules[${f.i}]`
    const dupId = earlier(ids, f.id, f.i)
    if (dupId !== undefined) errors.push({ path: `${p}.id`, message: `duplicate id ${quote(f.id!)}, already used by rules[${dupId}]` })
    const dupGroup = earlier(groups, f.groupId, f.i)
    if (dupGroup !== undefined)
      errors.push({
        path: `${p}.source.groupId`,
        message: `duplicate groupId ${quote(f.groupId!)}, already used by rules[${dupGroup}]; each trigger needs its own consumer group`,
      })
    const topicProblem = f.parentTopic === undefined ? undefined : parentTopicProblem(f.parentTopic, profile)
    if (topicProblem) errors.push({ path: `${p}.target.parentTopic`, message: topicProblem })
    if (f.enabled) {
      const dupParent = earlier(parents, f.parentTopic, f.i)
      if (dupParent !== undefined)
        errors.push({
          path: `${p}.target.parentTopic`,
          message: `parent topic ${quote(f.parentTopic!)} already has an enabled rule (rules[${dupParent}]); at most one enabled rule per MQTT parent topic`,
        })
    }
  }
  // Two enabled rules that could both match one message would publish it twice, once per trigger. A rule
  // without an instance (a self-managed cluster) could take any message on its topic.
  const byTopic = new Map<string, RuleFacts[]>()
  for (const f of facts) {
    if (!f.rule?.enabled) continue
    const list = byTopic.get(f.rule.source.topic) ?? []
    list.push(f)
    byTopic.set(f.rule.source.topic, list)
  }
  for (const list of byTopic.values()) {
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const x = list[a]!
        const y = list[b]!
        const xs = x.rule!.source
        const ys = y.rule!.source
        const sameInstance = xs.instanceId === ys.instanceId || xs.instanceId === undefined || ys.instanceId === undefined
        if (sameInstance && tagsOverlap(xs.tags, ys.tags)) {
          const which = xs.instanceId === ys.instanceId ? 'same instance and topic' : 'same topic, and one names no instance'
          errors.push({
            path: `rules[${y.i}].source.tags`,
            message: `overlaps rules[${x.i}] (${which}, tags ${quote(xs.tags)} and ${quote(ys.tags)}): a message would match both rules`,
          })
        }
      }
    }
  }
  if (profile.maxRules !== undefined && facts.length > profile.maxRules) {
    errors.push({
      path: 'rules',
      message: `has ${facts.length} rules; profile ${profile.name} allows at most ${profile.maxRules} per MQTT instance`,
    })
  }
  if (profile.maxParentTopics !== undefined && parents.size > profile.maxParentTopics) {
    errors.push({
      path: 'rules',
      message: `enabled rules use ${parents.size} parent topics; profile ${profile.name} allows at most ${profile.maxParentTopics} per MQTT instance`,
    })
  }
  return errors
}

function zodProblems(error: ZodError, input: unknown, prefix: PropertyKey[]): ProblemAt[] {
  return error.issues.flatMap((issue) => {
    // An unknown key is reported on its own path, so the user sees exactly which key to fix.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ path: formatPath([...prefix, ...issue.path, k]), message: `unknown key ${quote(k)}` }))
    }
    const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined
    // zod's own wording (no message of ours) for a value that should be an object: say it in YAML's terms.
    const notObject =
      issue.code === 'invalid_type' && issue.expected === 'object' && issue.message === `Expected object, received ${issue.received}`
    return [
      {
        path: formatPath([...prefix, ...issue.path]),
        message: missing ? 'is required' : notObject ? 'must be a mapping (key: value pairs)' : issue.message,
      },
    ]
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
