// One RocketMQ message -> one MQTT publish (docs/architecture.md, "Mapping"), or the reason it cannot be mapped.
import type { RocketMessage } from '../events/message.js'
import type { Rule } from '../rules/schema.js'
import { fullTopicProblem, quote } from '../rules/topics.js'
import type { MapResult, Publish, QoS } from './publish.js'
import type { RuleIndex } from './rule-index.js'
import { v5Properties } from './v5-properties.js'

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

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

  let payload: Buffer
  if (rule.target.bodyEncoding === 'base64') {
    // Line breaks of MIME-style base64 (76-character lines) are allowed; nothing else is.
    const text = msg.body.includes('\n') ? msg.body.replace(/\r?\n/g, '') : msg.body
    if (!BASE64.test(text)) return fail(`body: rule ${quote(rule.id)} declares base64, but the body is not valid base64`)
    payload = Buffer.from(text, 'base64')
  } else {
    if (!msg.body.isWellFormed())
      return fail('body: not well-formed Unicode (lone surrogate); it cannot be sent as UTF-8 without changing it')
    payload = Buffer.from(msg.body, 'utf8')
  }
  if (payload.length > profile.maxPayloadBytes)
    return fail(`body: payload is ${payload.length} bytes; profile ${profile.name} allows at most ${profile.maxPayloadBytes}`)

  const publish: Publish = { ruleId: rule.id, index: msg.index, topic, qos, retain: rule.target.retain, payload }
  if (msg.messageId !== undefined) publish.messageId = msg.messageId
  if (properties) publish.properties = properties
  return { ok: true, publish }
}
