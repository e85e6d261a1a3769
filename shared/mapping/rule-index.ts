// The enabled rules, indexed by RocketMQ topic: which rule takes a message, or why none does.
import type { RocketMessage } from '../events/message.js'
import { PROFILES, type Profile } from '../rules/profiles.js'
import { type CompiledRoute, compileRoutes } from '../rules/routes.js'
import type { Rule, RuleSet } from '../rules/schema.js'
import { tagSet } from '../rules/tags.js'
import { quote } from '../rules/topics.js'

export interface CompiledRule {
  rule: Rule
  tags: Set<string> | '*'
  parentLevels: number
  /** The rule's routes, their templates and filters parsed once, here (docs/rules.md, "Routes: topic templates and filters"). */
  routes: CompiledRoute[]
}

export class RuleIndex {
  readonly profile: Profile
  private readonly byTopic = new Map<string, CompiledRule[]>()

  constructor(readonly ruleSet: RuleSet) {
    this.profile = PROFILES[ruleSet.profile]
    ruleSet.rules.forEach((rule, i) => {
      if (!rule.enabled) return
      const { routes, problems } = compileRoutes(rule, i, this.profile)
      // The validator refused such a rule set already; a hand-built one must not run half-compiled.
      if (problems.length > 0) throw new Error(`rule ${quote(rule.id)} has invalid routes: ${problems[0]!.path}: ${problems[0]!.message}`)
      const list = this.byTopic.get(rule.source.topic) ?? []
      list.push({ rule, tags: tagSet(rule.source.tags), parentLevels: rule.target.parentTopic.split('/').length, routes })
      this.byTopic.set(rule.source.topic, list)
    })
  }

  /**
   * The one enabled rule for this message, or why there is none. A message names its instance (INSTANCE_ID
   * or the CloudEvent subject) or not (5.x and self-managed sources may not); without one, it matches by
   * topic alone only when exactly one rule can take it. A rule without an instance takes any instance.
   */
  match(msg: RocketMessage): CompiledRule | string {
    const onTopic = this.byTopic.get(msg.topic)
    if (!onTopic) return `no enabled rule for RocketMQ topic ${quote(msg.topic)}`
    const tagged = (c: CompiledRule) => c.tags === '*' || (msg.tags !== undefined && c.tags.has(msg.tags))
    let candidates = onTopic
    let accepted: CompiledRule[]
    if (msg.instanceId === undefined) accepted = onTopic.filter(tagged)
    else {
      // The message's own instance first; a rule without an instance takes what those leave.
      const exact = onTopic.filter((c) => c.rule.source.instanceId === msg.instanceId)
      const anyInstance = onTopic.filter((c) => c.rule.source.instanceId === undefined)
      candidates = [...exact, ...anyInstance]
      if (candidates.length === 0) return `no enabled rule for RocketMQ instance ${quote(msg.instanceId)} and topic ${quote(msg.topic)}`
      accepted = exact.filter(tagged)
      if (accepted.length === 0) accepted = anyInstance.filter(tagged)
    }
    if (accepted.length === 0) {
      return `tag ${msg.tags === undefined ? '(none)' : quote(msg.tags)} is not accepted by rule ${listed(candidates, (c) => `${quote(c.rule.id)} (tags ${quote(c.rule.source.tags)})`)}`
    }
    if (accepted.length > 1) {
      const rules = listed(
        accepted,
        (c) => `${quote(c.rule.id)} (instance ${c.rule.source.instanceId === undefined ? 'any' : quote(c.rule.source.instanceId)})`,
      )
      return `the message names no instance (no INSTANCE_ID, no instance in the CloudEvent subject) and topic ${quote(msg.topic)} matches several rules: ${rules}`
    }
    return accepted[0]!
  }
}

/** The first few, and how many more: a reason stays short however many rules share a topic. */
function listed(rules: CompiledRule[], show: (c: CompiledRule) => string, most = 5): string {
  const shown = rules.slice(0, most).map(show).join(', ')
  return rules.length > most ? `${shown} and ${rules.length - most} more` : shown
}
