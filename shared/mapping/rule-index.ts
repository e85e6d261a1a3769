// The enabled rules of the rule model (shared/rules/model.ts), indexed by RocketMQ topic: which rule takes a
// message, or why none does.

import { ok, type Result, refused } from '../errors.js'
import type { RocketMessage } from '../events/message.js'
import { type CompiledRule, type RuleModel, ruleModel } from '../rules/model.js'
import type { Profile } from '../rules/profiles.js'
import type { RuleSet } from '../rules/schema.js'
import { quote } from '../rules/topics.js'

export type { CompiledRule } from '../rules/model.js'

export class RuleIndex {
  readonly profile: Profile
  readonly model: RuleModel
  private readonly byTopic = new Map<string, CompiledRule[]>()

  /** From a validated rule set (or its model, when the validator made one already). */
  constructor(
    readonly ruleSet: RuleSet,
    model: RuleModel = ruleModel(ruleSet),
  ) {
    this.model = model
    this.profile = model.profile
    for (const rule of model.rules) {
      if (!rule.enabled) continue
      const list = this.byTopic.get(rule.rule.source.topic) ?? []
      list.push(rule)
      this.byTopic.set(rule.rule.source.topic, list)
    }
  }

  /**
   * The one enabled rule for this message, or why there is none. A message names its instance (INSTANCE_ID
   * or the CloudEvent subject) or not (5.x and self-managed sources may not); without one, it matches by
   * topic alone only when exactly one rule can take it. A rule without an instance takes any instance.
   */
  match(msg: RocketMessage): Result<CompiledRule> {
    const onTopic = this.byTopic.get(msg.topic)
    if (!onTopic) return refused(`no enabled rule for RocketMQ topic ${quote(msg.topic)}`)
    // The common case, one rule on the topic that takes the message, without the lists below.
    if (onTopic.length === 1) {
      const only = onTopic[0]!
      const instance = only.rule.source.instanceId
      if ((msg.instanceId === undefined || instance === undefined || instance === msg.instanceId) && takesTag(only, msg.tags))
        return ok(only)
    }
    const tagged = (c: CompiledRule) => takesTag(c, msg.tags)
    let candidates = onTopic
    let accepted: CompiledRule[]
    if (msg.instanceId === undefined) accepted = onTopic.filter(tagged)
    else {
      // The message's own instance first; a rule without an instance takes what those leave.
      const exact = onTopic.filter((c) => c.rule.source.instanceId === msg.instanceId)
      const anyInstance = onTopic.filter((c) => c.rule.source.instanceId === undefined)
      candidates = [...exact, ...anyInstance]
      if (candidates.length === 0)
        return refused(`no enabled rule for RocketMQ instance ${quote(msg.instanceId)} and topic ${quote(msg.topic)}`)
      accepted = exact.filter(tagged)
      if (accepted.length === 0) accepted = anyInstance.filter(tagged)
    }
    if (accepted.length === 0) {
      return refused(
        `tag ${msg.tags === undefined ? '(none)' : quote(msg.tags)} is not accepted by rule ${listed(candidates, (c) => `${quote(c.id)} (tags ${quote(c.rule.source.tags)})`)}`,
      )
    }
    if (accepted.length > 1) {
      const rules = listed(
        accepted,
        (c) => `${quote(c.id)} (instance ${c.rule.source.instanceId === undefined ? 'any' : quote(c.rule.source.instanceId)})`,
      )
      return refused(
        `the message names no instance (no INSTANCE_ID, no instance in the CloudEvent subject) and topic ${quote(msg.topic)} matches several rules: ${rules}`,
      )
    }
    return ok(accepted[0]!)
  }
}

/** The first few, and how many more: a reason stays short however many rules share a topic. */
function listed(rules: CompiledRule[], show: (c: CompiledRule) => string, most = 5): string {
  const shown = rules.slice(0, most).map(show).join(', ')
  return rules.length > most ? `${shown} and ${rules.length - most} more` : shown
}

/** Whether the rule's tag expression takes a message with these tags. */
function takesTag(c: CompiledRule, tags: string | undefined): boolean {
  return c.tags === '*' || (tags !== undefined && c.tags.has(tags))
}
