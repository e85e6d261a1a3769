// One RocketMQ message -> one MQTT publish (docs/architecture.md, "Mapping"), or the reason it cannot be mapped.
import type { RocketMessage } from '../events/message.js'
import { destinationOf } from '../rules/route.js'
import { quote } from '../rules/topics.js'
import { MessageFields } from './message-fields.js'
import { payloadOf } from './payload.js'
import type { MapResult, Publish, V5Properties } from './publish.js'
import type { RuleIndex } from './rule-index.js'
import { v5Properties } from './v5-properties.js'

export function mapMessage(msg: RocketMessage, index: RuleIndex): MapResult {
  const matched = index.match(msg)
  if (!matched.ok) return matched
  const rule = matched.value
  const fail = (reason: string): MapResult => ({ ok: false, reason, ruleId: rule.id })
  const props = msg.userProperties
  const profile = index.profile

  // Fields are read (and the body parsed) only when the rule has routes.
  const fields = rule.routes.length > 0 ? new MessageFields(msg) : undefined
  const routed = destinationOf(rule, props, fields, profile)
  if (!routed.ok) return fail(routed.reason)
  const destination = routed.value
  if (destination.kind === 'filtered') return { ok: true, value: { kind: 'filtered', reason: destination.reason, ruleId: rule.id } }
  const { topic, qos, retain, route } = destination

  const clean = props['cleansessionflag']
  if (clean !== undefined && clean !== 'true' && clean !== 'false')
    return fail(`userProperties.cleansessionflag: must be true or false, got ${quote(clean)}`)

  const fromMessage = v5Properties(props, rule.rule.target.forwardUserProperties, profile)
  if (!fromMessage.ok) return fail(fromMessage.reason)
  const properties = withRouteProperties(fromMessage.value, destination.userProperties)

  const payload = payloadOf(msg.body, rule.rule.target.bodyEncoding, rule.id, profile)
  if (!payload.ok) return fail(payload.reason)

  const publish: Publish = { ruleId: rule.id, index: msg.index, topic, qos, retain, payload: payload.value }
  if (msg.messageId !== undefined) publish.messageId = msg.messageId
  if (properties) publish.properties = properties
  // The seam for ordered delivery: the group travels with the planned record to the publish stage.
  const group = rule.ordering === 'message-group' ? msg.messageGroup : undefined
  return {
    ok: true,
    value: group === undefined ? { kind: 'publish', publish, route } : { kind: 'publish', publish, route, messageGroup: group },
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
