// The compiled rule model: what a validated rule set does, asked by every tool (the bridge's rule index, the
// validator and preview, and the command-line tools) so that none of them reads rules.yaml its own way
// (docs/rules.md, "The rule model"). For each rule: the MQTT parent topics it can publish to (its target and
// every route), the levels of each topic and what each level takes, its filters with their values as
// written, and the QoS, retain flag and ordering that apply. The compiled filters and templates here are
// the ones the bridge evaluates per message (filter.ts, template.ts, topic-template.ts, route.ts).
import { type ProblemAt, RulesError } from '../errors.js'
import { type Field, fieldText } from './fields.js'
import type { Condition } from './filter.js'
import { PROFILES, type Profile } from './profiles.js'
import { type CompiledRoute, compileRoutes, type QoS, type RoutingRule } from './route.js'
import type { Rule, RuleSet } from './schema.js'
import { tagSet } from './tags.js'
import type { TopicLevel } from './topic-template.js'

export interface RuleModel {
  profile: Profile
  /** Every rule, enabled or not, in the order of the rules file. */
  rules: CompiledRule[]
  /**
   * Every MQTT parent topic an enabled rule can publish to, in the order the rules file first names it: each
   * must exist in the MQTT instance (profile alibaba) and is what a subscriber to all the rules' messages
   * subscribes to (`<parent>/#`). A route that lets the producer choose the parent (`allowAnyParent`) adds
   * none: see `anyParent` on the rule.
   */
  parentTopics: ParentTopic[]
  /** The rule with this id. */
  rule(id: string): CompiledRule | undefined
}

export interface ParentTopic {
  topic: string
  /** Which rules publish to it, and through what: `{ruleId: 'plant', outlet: 'routes[0]'}`. */
  usedBy: Array<{ ruleId: string; outlet: string }>
}

export interface CompiledRule extends RoutingRule {
  id: string
  /** Position in the rules file: `rules[index]`. */
  index: number
  enabled: boolean
  /** The rule as validated, every default filled in. */
  rule: Rule
  /** The tags its source accepts. */
  tags: Set<string> | '*'
  /** One message group at a time, in order (docs/rules.md, "Ordered delivery per message group"). */
  ordering: 'message-group' | undefined
  /**
   * Where its messages can go, in the order a message tries them: each route, then the target (left out
   * when the rule says `unmatched: skip`, as no message reaches it then).
   */
  outlets: Outlet[]
  /** The distinct written-out parent topics of its outlets. */
  parentTopics: string[]
  /** Whether a route lets the producer choose the parent topic (profile mqtt, `allowAnyParent: true`). */
  anyParent: boolean
}

/** A route, or the rule's target, as the tools see it. */
export interface Outlet {
  kind: 'route' | 'target'
  /** As the preview and the summary name it: `routes[2]` or `target`. */
  name: string
  /** Where it is in the rules file: `rules[0].routes[2]` or `rules[0].target`. */
  path: string
  /** The written-out MQTT parent topic; undefined when the producer chooses it (`anyParent`). */
  parentTopic: string | undefined
  anyParent: boolean
  /** The topic as the rules write it: a route's template, or the target's `<parentTopic>/${mqttSecondTopic}`. */
  topic: string
  /** Its levels, in order, each with the placeholders that fill it and the pattern their values must match. */
  levels: LevelShape[]
  /** The conditions a message must meet to take it (a route's `when`; none for the target), values as written. */
  filters: FilterShape[]
  /** Its QoS, before a message's own `qoslevel` property, which wins. */
  qos: QoS
  retain: boolean
  /** The names of the MQTT 5 user properties it adds. */
  userProperties: string[]
  /** Whether it reads the JSON body (its filter or templates name `body.<path>`). */
  readsBody: boolean
}

export interface LevelShape {
  /** The level as written: `site-${body.site}`. */
  text: string
  /** Literal text only: every message gets this level as written. */
  literal: boolean
  placeholders: Array<{ field: string; default?: string; text: string }>
  /**
   * `${mqttSecondTopic}`: zero or more levels, as the producer's mqttSecondTopic gives them (the target's
   * `/p2p/<clientId>` form included).
   */
  subtopic: boolean
  /**
   * What every character of a value filling this level must match in the profile; undefined: any character
   * but '/', '+', '#', NUL and a leading '$'. In profile alibaba, a `<parent>/p2p/<clientId>` level written out
   * as such also takes '@'.
   */
  pattern: RegExp | undefined
}

export interface FilterShape {
  /** The field as written: `userProperties.version`, `body.kind`, `tags`. */
  field: string
  /** The test, its values as the rules write them (text). */
  test:
    | { kind: 'equals'; value: string }
    | { kind: 'oneOf'; values: string[] }
    | { kind: 'prefix'; prefix: string }
    | { kind: 'exists'; present: boolean }
}

/**
 * A rule compiled, and every problem with its routes (paths under `rules[i]`). A rule with problems gets no
 * compiled rule: the validator refuses the set before anything could use it.
 */
export function compileRule(
  rule: Rule,
  i: number,
  profile: Profile,
): { compiled?: CompiledRule; routes: Array<CompiledRoute | undefined>; problems: ProblemAt[] } {
  const { routes, problems } = compileRoutes(
    { routes: rule.routes ?? [], tags: rule.source.tags, bodyEncoding: rule.target.bodyEncoding, ...unmatchedOf(rule) },
    i,
    profile,
  )
  if (problems.length > 0 || routes.some((r) => r === undefined)) return { routes, problems }
  const compiled = routes as CompiledRoute[]
  const parentLevels = rule.target.parentTopic.split('/').length
  const base = {
    id: rule.id,
    index: i,
    enabled: rule.enabled,
    rule,
    tags: tagSet(rule.source.tags),
    ordering: rule.ordering,
    routes: compiled,
    unmatched: rule.unmatched ?? 'target',
    target: { parentTopic: rule.target.parentTopic, parentLevels, qos: rule.target.qos, retain: rule.target.retain },
  } satisfies Omit<CompiledRule, 'outlets' | 'parentTopics' | 'anyParent'>
  const outlets = outletsOf(base, profile)
  const parentTopics = [...new Set(outlets.flatMap((o) => (o.parentTopic !== undefined ? [o.parentTopic] : [])))]
  return { compiled: { ...base, outlets, parentTopics, anyParent: outlets.some((o) => o.anyParent) }, routes, problems: [] }
}

const unmatchedOf = (rule: Rule): { unmatched?: 'target' | 'skip' } => (rule.unmatched ? { unmatched: rule.unmatched } : {})

function outletsOf(rule: Omit<CompiledRule, 'outlets' | 'parentTopics' | 'anyParent'>, profile: Profile): Outlet[] {
  const at = `rules[${rule.index}]`
  const outlets: Outlet[] = rule.routes.map((r, j) => ({
    kind: 'route',
    name: `routes[${j}]`,
    path: `${at}.routes[${j}]`,
    parentTopic: r.topic.parent,
    anyParent: r.anyParent,
    topic: r.topic.source,
    levels: r.topic.levels.map(levelShape),
    filters: r.conditions.map(filterShape),
    qos: r.qos ?? rule.target.qos,
    retain: r.retain ?? rule.target.retain,
    userProperties: r.userProperties.map(([name]) => name),
    readsBody: r.readsBody,
  }))
  if (rule.unmatched === 'skip') return outlets
  const parent = rule.target.parentTopic
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder as rules write it
  const sub = '${mqttSecondTopic}'
  outlets.push({
    kind: 'target',
    name: 'target',
    path: `${at}.target`,
    parentTopic: parent,
    anyParent: false,
    topic: `${parent}/${sub}`,
    levels: [
      ...parent.split('/').map((text) => ({ text, literal: true, placeholders: [], subtopic: false, pattern: profile.levelPattern })),
      { text: sub, literal: false, placeholders: [{ field: 'mqttSecondTopic', text: sub }], subtopic: true, pattern: profile.levelPattern },
    ],
    filters: [],
    qos: rule.target.qos,
    retain: rule.target.retain,
    userProperties: [],
    readsBody: false,
  })
  return outlets
}

function levelShape(level: TopicLevel): LevelShape {
  const placeholders = level.parts.flatMap((p) =>
    typeof p === 'string'
      ? []
      : [{ field: fieldText(p.field), ...(p.fallback !== undefined ? { default: p.fallback } : {}), text: p.text }],
  )
  return {
    text: level.parts.map((p) => (typeof p === 'string' ? p : p.text)).join(''),
    literal: placeholders.length === 0,
    placeholders,
    subtopic: level.subtopic,
    pattern: level.pattern,
  }
}

function filterShape(c: Condition): FilterShape {
  const field = fieldText(c.field as Field)
  const t = c.test
  return { field, test: t.kind === 'oneOf' ? { kind: 'oneOf', values: [...t.values] } : t }
}

/** The model of a validated rule set. Throws RulesError, every problem listed, on a hand-built set the validator would refuse. */
export function ruleModel(ruleSet: RuleSet): RuleModel {
  const profile = PROFILES[ruleSet.profile]
  const rules: CompiledRule[] = []
  const problems: ProblemAt[] = []
  ruleSet.rules.forEach((rule, i) => {
    const c = compileRule(rule, i, profile)
    if (c.compiled) rules.push(c.compiled)
    else problems.push(...c.problems)
  })
  if (problems.length > 0 || rules.length < ruleSet.rules.length) throw new RulesError('a rule set built without the validator', problems)
  return modelOf(profile, rules)
}

/** The model of rules compiled one by one (the validator compiles each as it checks it). */
export function modelOf(profile: Profile, rules: CompiledRule[]): RuleModel {
  const byTopic = new Map<string, ParentTopic>()
  for (const r of rules) {
    if (!r.enabled) continue
    for (const o of r.outlets) {
      if (o.parentTopic === undefined) continue
      const entry = byTopic.get(o.parentTopic) ?? { topic: o.parentTopic, usedBy: [] }
      entry.usedBy.push({ ruleId: r.id, outlet: o.name })
      byTopic.set(o.parentTopic, entry)
    }
  }
  const byId = new Map(rules.map((r) => [r.id, r]))
  return { profile, rules, parentTopics: [...byTopic.values()], rule: (id) => byId.get(id) }
}

/** `rules[0].routes[2].topic` for an outlet's topic, as errors name it. */
export const topicPath = (o: Outlet): string => (o.kind === 'route' ? `${o.path}.topic` : `${o.path}.parentTopic`)
