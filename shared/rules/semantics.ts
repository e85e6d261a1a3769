// Checks across rules, beyond each rule's schema: unique ids and consumer groups, one enabled rule per
// parent topic, routes that stay out of other rules' parent topics, no two enabled rules that could take one
// message, and the profile's limits on rules and parent topics (docs/rules.md, "The rules file").
import type { ProblemAt } from '../errors.js'
import type { Profile } from './profiles.js'
import type { Rule } from './schema.js'
import { setsOverlap, tagSet } from './tags.js'
import type { TopicTemplate } from './topic-template.js'
import { parentTopicProblem, quote } from './topics.js'

/** What the cross-rule checks read from a rule, taken from the raw rule when it failed the schema. */
export interface RuleFacts {
  i: number
  id?: string
  groupId?: string
  parentTopic?: string
  /** Its routes that compiled (route j of the rule), whether or not the rest of the rule is valid. */
  routes: Array<{ j: number; topic: TopicTemplate; anyParent: boolean }>
  enabled: boolean
  /** Present when the whole rule passed the schema. */
  rule?: Rule
}

export function semanticProblems(profile: Profile, facts: RuleFacts[]): ProblemAt[] {
  const errors: ProblemAt[] = []
  const ids = new Map<string, number>()
  const groups = new Map<string, number>()
  const parents = new Map<string, number>()
  const allParents = new Set<string>()
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
      if (f.parentTopic !== undefined) allParents.add(f.parentTopic)
      for (const r of f.routes) if (r.topic.parent !== undefined) allParents.add(r.topic.parent)
    }
  }
  routesIntoOtherRules(facts, errors)
  overlaps(facts, errors)
  if (profile.maxRules !== undefined && facts.length > profile.maxRules) {
    errors.push({
      path: 'rules',
      message: `has ${facts.length} rules; profile ${profile.name} allows at most ${profile.maxRules} per MQTT instance`,
    })
  }
  if (profile.maxParentTopics !== undefined && allParents.size > profile.maxParentTopics) {
    errors.push({
      path: 'rules',
      message: `enabled rules and their routes use ${allParents.size} parent topics; profile ${profile.name} allows at most ${profile.maxParentTopics} per MQTT instance`,
    })
  }
  return errors
}

/**
 * Two enabled rules that could both match one message would publish it twice, once per trigger. A rule
 * without an instance (a self-managed cluster) could take any message on its topic. One error per rule,
 * naming the first earlier rule it overlaps and counting the others, so 1,000 alike rules give 999 errors.
 */
function overlaps(facts: RuleFacts[], errors: ProblemAt[]): void {
  const byTopic = new Map<string, Array<{ f: RuleFacts; tags: Set<string> | '*' }>>()
  for (const f of facts) {
    if (!f.rule?.enabled) continue
    const list = byTopic.get(f.rule.source.topic) ?? []
    list.push({ f, tags: tagSet(f.rule.source.tags) })
    byTopic.set(f.rule.source.topic, list)
  }
  for (const list of byTopic.values()) {
    for (let b = 1; b < list.length; b++) {
      const y = list[b]!
      const ys = y.f.rule!.source
      let first: (typeof list)[number] | undefined
      let more = 0
      for (let a = 0; a < b; a++) {
        const x = list[a]!
        const xs = x.f.rule!.source
        const sameInstance = xs.instanceId === ys.instanceId || xs.instanceId === undefined || ys.instanceId === undefined
        if (!sameInstance || !setsOverlap(x.tags, y.tags)) continue
        if (first === undefined) first = x
        else more++
      }
      if (!first) continue
      const xs = first.f.rule!.source
      const which = xs.instanceId === ys.instanceId ? 'same instance and topic' : 'same topic, and one names no instance'
      const others = more === 0 ? '' : ` and ${more} other rule${more === 1 ? '' : 's'}`
      errors.push({
        path: `rules[${y.f.i}].source.tags`,
        message: `overlaps rules[${first.f.i}]${others} (${which}, tags ${quote(xs.tags)} and ${quote(ys.tags)}): a message would match both rules`,
      })
    }
  }
}

/**
 * A route stays inside its rule: it may not publish into another enabled rule's parent topic, which devices
 * subscribe to for that rule's messages. A route whose producer chooses the first level (profile mqtt,
 * `allowAnyParent: true`) has said that it may, and is not checked.
 */
function routesIntoOtherRules(facts: RuleFacts[], errors: ProblemAt[]): void {
  const owners = new Map<string, RuleFacts>()
  for (const f of facts) if (f.enabled && f.parentTopic !== undefined && !owners.has(f.parentTopic)) owners.set(f.parentTopic, f)
  if (owners.size === 0) return
  for (const f of facts) {
    if (!f.enabled) continue
    for (const r of f.routes) {
      if (r.anyParent) continue
      for (const [parent, owner] of owners) {
        if (owner === f || !reaches(r.topic, parent.split('/'))) continue
        errors.push({
          path: `rules[${f.i}].routes[${r.j}].topic`,
          message: `can publish into parent topic ${quote(parent)}, which is rules[${owner.i}]'s${owner.id !== undefined ? ` (${quote(owner.id)})` : ''}: a route stays inside its own rule; give it a parent topic no other enabled rule has`,
        })
        break
      }
    }
  }
}

/** Whether a topic the template renders can be `parent` or lie below it: its levels can spell the parent's out. */
function reaches(t: TopicTemplate, parent: string[]): boolean {
  for (let k = 0; k < parent.length; k++) {
    const level = t.levels[k]
    if (level === undefined) return false
    if (level.subtopic) return true
    const literal = level.parts.length === 1 && typeof level.parts[0] === 'string'
    if (literal && level.parts[0] !== parent[k]) return false
  }
  return true
}
