// Where one message goes within its rule: the first route whose `when` accepts it, else the rule's
// target, or nowhere when the rule says `unmatched: skip` (docs/rules.md, "Routes: topic templates and filters"). The topic, QoS,
// retain flag and route user properties of that choice; the payload and MQTT 5 properties are the
// mapping's (map-message.ts).
import type { RocketMessage } from '../events/message.js'
import type { Profile } from '../rules/profiles.js'
import type { CompiledRoute } from '../rules/routes.js'
import { fullTopicProblem, quote } from '../rules/topics.js'
import { accepts } from './filter.js'
import { MessageFields } from './message-fields.js'
import type { QoS, RouteTaken } from './publish.js'
import type { CompiledRule } from './rule-index.js'
import { renderText, renderTopic } from './template.js'

export interface Destination {
  route: RouteTaken
  topic: string
  qos: QoS
  retain: boolean
  /** MQTT 5 user properties the route adds, in the order it lists them. */
  userProperties?: Array<[string, string]>
}

export type DestinationResult = { ok: true; destination: Destination } | { ok: false; filtered: boolean; reason: string }

export function destinationOf(matched: CompiledRule, msg: RocketMessage, profile: Profile): DestinationResult {
  const { rule, routes } = matched
  // Fields are read (and the body parsed) only when the rule has routes.
  const fields = routes.length > 0 ? new MessageFields(msg) : undefined
  // A loop, not findIndex: no closure per message (the bundle keeps function names, which costs per closure).
  let index = -1
  if (fields)
    for (let k = 0; k < routes.length; k++)
      if (accepts(routes[k]!.conditions, fields)) {
        index = k
        break
      }
  // A filtered message is none of the bridge's business: its properties are not checked.
  if (index === -1 && rule.unmatched === 'skip')
    return { ok: false, filtered: true, reason: `no route of rule ${quote(rule.id)} accepts it, and the rule says unmatched: skip` }
  const route = index === -1 ? undefined : routes[index]!
  let destination: Destination
  if (route) {
    const d = routed(route, index, fields!, rule.target, profile)
    if (!d.ok) return d
    destination = d.destination
  } else {
    const topic = targetTopic(rule.target.parentTopic, msg.userProperties['mqttSecondTopic'])
    const bad = fullTopicProblem(topic, matched.parentLevels, profile)
    if (bad) return { ok: false, filtered: false, reason: `userProperties.mqttSecondTopic: topic ${bad}` }
    destination = { route: 'target', topic, qos: rule.target.qos, retain: rule.target.retain }
  }
  // The producer's qoslevel wins, as on Alibaba's inbound rules; then the route's QoS, then the target's.
  const qosText = msg.userProperties['qoslevel']
  if (qosText !== undefined) {
    if (qosText !== '0' && qosText !== '1' && qosText !== '2')
      return { ok: false, filtered: false, reason: `userProperties.qoslevel: must be 0, 1 or 2, got ${quote(qosText)}` }
    destination.qos = Number(qosText) as QoS
  }
  return { ok: true, destination }
}

function routed(
  route: CompiledRoute,
  index: number,
  fields: MessageFields,
  target: { qos: QoS; retain: boolean },
  profile: Profile,
): DestinationResult {
  const topic = renderTopic(route.topic, fields, profile)
  if (!topic.ok) return { ok: false, filtered: false, reason: `routes[${index}].topic: ${topic.reason}` }
  const destination: Destination = { route: index, topic: topic.text, qos: route.qos ?? target.qos, retain: route.retain ?? target.retain }
  if (route.userProperties.length > 0) {
    const user: Array<[string, string]> = []
    for (const [name, template] of route.userProperties) {
      const value = renderText(template, fields)
      if (!value.ok) return { ok: false, filtered: false, reason: `routes[${index}].userProperties.${name}: ${value.reason}` }
      user.push([name, value.text])
    }
    destination.userProperties = user
  }
  return { ok: true, destination }
}

/** Alibaba's mapping: `parentTopic` + `mqttSecondTopic`, a missing leading '/' added. */
function targetTopic(parent: string, second: string | undefined): string {
  if (second === undefined || second === '') return parent
  return parent + (second.startsWith('/') ? second : `/${second}`)
}
