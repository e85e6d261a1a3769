// One RocketMQ message -> one MQTT publish (docs/architecture.md, "Mapping"), or the reason it cannot be mapped.
import type { RocketMessage } from '../events/message.js'
import type { Rule } from '../rules/schema.js'
import { fullTopicProblem, quote } from '../rules/topics.js'
import { payloadOf } from './payload.js'
import type { MapResult, Publish, QoS } from './publish.js'
import type { RuleIndex } from './rule-index.js'
import { v5Properties } from './v5-properties.js'

function failed(reason: string, rule: Rule): MapResult {
  return { ok: false, reason, ruleId: rule.id }
}

export function mapMessage(msg: RocketMessage, index: RuleIndex): MapResult {
  const matched = index.match(msg)
  if (typeof matched === 'string') return { ok: false, reason: matched }
  const { rule, parentLevels } = matched
  const fail = (reason: string) => failed(reason, rule)
  const props = msg.userProperties
  const profile = index.profile

  const second = props['mqttSecondTopic']
  const topic =
    second === undefined || second === ''
      ? rule.target.parentTopic
      : rule.target.parentTopic + (second.startsWith('/') ? second : `/${second}`)
  const topicProblem = fullTopicProblem(topic, parentLevels, profile)
  if (topicProblem) return fail(`userProperties.mqttSecondTopic: topic ${topicProblem}`)

  let qos: QoS = rule.target.qos
  const qosText = props['qoslevel']
  if (qosText !== undefined) {
    if (qosText !== '0' && qosText !== '1' && qosText !== '2')
      return fail(`userProperties.qoslevel: must be 0, 1 or 2, got ${quote(qosText)}`)
    qos = Number(qosText) as QoS
  }

  const clean = props['cleansessionflag']
  if (clean !== undefined && clean !== 'true' && clean !== 'false')
    return fail(`userProperties.cleansessionflag: must be true or false, got ${quote(clean)}`)

  const properties = v5Properties(props, rule.target.forwardUserProperties, profile)
  if (typeof properties === 'string') return fail(properties)

  const payload = payloadOf(msg.body, rule.target.bodyEncoding, rule.id, profile)
  if (typeof payload === 'string') return fail(payload)

  const publish: Publish = { ruleId: rule.id, index: msg.index, topic, qos, retain: rule.target.retain, payload }
  if (msg.messageId !== undefined) publish.messageId = msg.messageId
  if (properties) publish.properties = properties
  return { ok: true, publish }
}
