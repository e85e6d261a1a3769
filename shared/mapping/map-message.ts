// One RocketMQ message -> one MQTT publish (docs/architecture.md, "Mapping"), or the reason it cannot be mapped.
import type { RocketMessage } from '../events/message.js'
import type { Rule } from '../rules/schema.js'
import { quote } from '../rules/topics.js'
import { deadlineOf } from './deadline.js'
import { payloadOf } from './payload.js'
import type { MapResult, Publish, V5Properties } from './publish.js'
import { destinationOf } from './routes.js'
import type { RuleIndex } from './rule-index.js'
import { v5Properties } from './v5-properties.js'

function failed(reason: string, rule: Rule): MapResult {
  return { ok: false, reason, ruleId: rule.id }
}

export function mapMessage(msg: RocketMessage, index: RuleIndex): MapResult {
  const matched = index.match(msg)
  if (typeof matched === 'string') return { ok: false, reason: matched }
  const { rule } = matched
  const fail = (reason: string) => failed(reason, rule)
  const props = msg.userProperties
  const profile = index.profile

  const routed = destinationOf(matched, msg, profile)
  if (!routed.ok) return routed.filtered ? { ok: false, filtered: true, reason: routed.reason, ruleId: rule.id } : fail(routed.reason)
  const { topic, qos, retain, route } = routed.destination

  const clean = props['cleansessionflag']
  if (clean !== undefined && clean !== 'true' && clean !== 'false')
    return fail(`userProperties.cleansessionflag: must be true or false, got ${quote(clean)}`)

  const fromMessage = v5Properties(props, rule.target.forwardUserProperties, profile)
  if (typeof fromMessage === 'string') return fail(fromMessage)
  const properties = withRouteProperties(fromMessage, routed.destination.userProperties)

  const payload = payloadOf(msg.body, rule.target.bodyEncoding, rule.id, profile)
  if (typeof payload === 'string') return fail(payload)

  const publish: Publish = { ruleId: rule.id, index: msg.index, topic, qos, retain, payload }
  if (msg.messageId !== undefined) publish.messageId = msg.messageId
  if (properties) publish.properties = properties
  // The seam for ordered delivery: the group travels with the planned record to the publish stage.
  const group = rule.ordering === 'message-group' ? msg.messageGroup : undefined
  const deadline = deadlineOf(rule, index.ruleSet.defaultDeadline, route)
  return {
    ok: true,
    publish,
    route,
    ...(group !== undefined ? { messageGroup: group } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  }
}

/** A route's user properties join the message's own; a name both use keeps both values. */
function withRouteProperties(props: V5Properties | undefined, route: Array<[string, string]> | undefined): V5Properties | undefined {
  if (!route) return props
  // No prototype, as the mapping's own user properties: `constructor` and `__proto__` are ordinary names.
  const user: Record<string, string | string[]> = Object.assign(Object.create(null), props?.userProperties)
  for (const [name, value] of route) {
    const prev = Object.hasOwn(user, name) ? user[name] : undefined
    // Defined, not assigned: a property named __proto__ stays a property.
    Object.defineProperty(user, name, {
      value: prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value],
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return { ...props, userProperties: user }
}
