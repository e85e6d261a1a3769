// One RocketMQ message -> one MQTT publish (docs/architecture.md, "Mapping"), or the reason it cannot be mapped.
import type { RocketMessage } from '../events/message.js'
import { PROFILES, type Profile } from '../rules/profiles.js'
import type { Rule, RuleSet } from '../rules/schema.js'
import { tagSet } from '../rules/tags.js'
import { fullTopicProblem, quote } from '../rules/topics.js'

export type QoS = 0 | 1 | 2

/** MQTT 5 publish properties; sent only on version-5 connections. */
export interface V5Properties {
  userProperties?: Record<string, string | string[]>
  messageExpiryInterval?: number
  contentType?: string
}

export interface Publish {
  ruleId: string
  messageId?: string
  /** Position in the batch. */
  index: number
  topic: string
  qos: QoS
  retain: boolean
  payload: Buffer
  properties?: V5Properties
}

export type MapResult = { ok: true; publish: Publish } | { ok: false; reason: string; ruleId?: string }

/** User properties the mapping consumes; with forwardUserProperties, the others become MQTT 5 user properties. */
const MAPPED_PROPERTIES = new Set([
  'mqttSecondTopic',
  'qoslevel',
  'cleansessionflag',
  'mqttRealTopic',
  'mqtt5UserProperty',
  'mqtt5MsgExpireInterval',
  'mqtt5ContentType',
  // Read-only on MQTT -> RocketMQ messages (docs/platform-facts.md §2); never forwarded.
  'clientId',
  'topic',
  // RocketMQ's own message-group property (docs/platform-facts.md §8.4), not the producer's.
  '__SHARDINGKEY',
])

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

interface CompiledRule {
  rule: Rule
  tags: Set<string> | '*'
  parentLevels: number
}

/** The enabled rules, indexed by RocketMQ topic for the per-message lookup. */
export class RuleIndex {
  readonly profile: Profile
  private readonly byTopic = new Map<string, CompiledRule[]>()

  constructor(readonly ruleSet: RuleSet) {
    this.profile = PROFILES[ruleSet.profile]
    for (const rule of ruleSet.rules) {
      if (!rule.enabled) continue
      const list = this.byTopic.get(rule.source.topic) ?? []
      list.push({ rule, tags: tagSet(rule.source.tags), parentLevels: rule.target.parentTopic.split('/').length })
      this.byTopic.set(rule.source.topic, list)
    }
  }

  /**
   * The one enabled rule for this message, or why there is none. A message names its instance (INSTANCE_ID
   * or the CloudEvent subject) or not (5.x and self-managed sources may not); without one, it matches by
   * topic alone only when exactly one rule can take it. A rule without an instance takes any instance.
   */
  match(msg: RocketMessage): CompiledRule | string {
    const onTopic = this.byTopic.get(msg.topic)
    if (!onTopic) return `no enabled rule for RocketMQ topic ${quote(msg.topic)}`
    let candidates = onTopic
    if (msg.instanceId !== undefined) {
      const exact = onTopic.filter((c) => c.rule.source.instanceId === msg.instanceId)
      candidates = exact.length > 0 ? exact : onTopic.filter((c) => c.rule.source.instanceId === undefined)
      if (candidates.length === 0) return `no enabled rule for RocketMQ instance ${quote(msg.instanceId)} and topic ${quote(msg.topic)}`
    }
    const accepted = candidates.filter((c) => c.tags === '*' || (msg.tags !== undefined && c.tags.has(msg.tags)))
    if (accepted.length === 0) {
      return `tag ${msg.tags === undefined ? '(none)' : quote(msg.tags)} is not accepted by rule ${candidates.map((c) => `${quote(c.rule.id)} (tags ${quote(c.rule.source.tags)})`).join(', ')}`
    }
    if (accepted.length > 1) {
      const list = accepted.map(
        (c) => `${quote(c.rule.id)} (instance ${c.rule.source.instanceId === undefined ? 'any' : quote(c.rule.source.instanceId)})`,
      )
      return `the message names no instance (no INSTANCE_ID, no instance in the CloudEvent subject) and topic ${quote(msg.topic)} matches several rules: ${list.join(', ')}`
    }
    return accepted[0]!
  }
}

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

/** The MQTT 5 properties of a message, undefined when it has none, or a reason string. */
function addUser(user: Record<string, string | string[]>, key: string, value: string): void {
  const prev = user[key]
  user[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
}

function v5Properties(props: Record<string, string>, forward: boolean, profile: Profile): V5Properties | undefined | string {
  // Most messages carry none of these: skip the work.
  if (
    !forward &&
    props['mqtt5UserProperty'] === undefined &&
    props['mqtt5MsgExpireInterval'] === undefined &&
    props['mqtt5ContentType'] === undefined &&
    props['mqttRealTopic'] === undefined
  )
    return undefined
  const out: V5Properties = {}
  const user: Record<string, string | string[]> = {}

  const list = props['mqtt5UserProperty']
  if (list !== undefined) {
    const bytes = Buffer.byteLength(list, 'utf8')
    if (bytes > profile.userPropertyMaxBytes)
      return `userProperties.mqtt5UserProperty: ${bytes} bytes; at most ${profile.userPropertyMaxBytes} allowed`
    let parsed: unknown
    try {
      parsed = JSON.parse(list)
    } catch {
      return 'userProperties.mqtt5UserProperty: not JSON; expected an array like [{"key":"k","value":"v"}]'
    }
    if (!Array.isArray(parsed)) return 'userProperties.mqtt5UserProperty: must be a JSON array like [{"key":"k","value":"v"}]'
    for (let i = 0; i < parsed.length; i++) {
      const item = parsed[i] as { key?: unknown; value?: unknown } | null
      if (typeof item !== 'object' || item === null || typeof item.key !== 'string' || typeof item.value !== 'string') {
        return `userProperties.mqtt5UserProperty[${i}]: must be {"key": string, "value": string}`
      }
      const bad = mqttStringProblem(item.key) ?? mqttStringProblem(item.value)
      if (bad) return `userProperties.mqtt5UserProperty[${i}]: ${bad}`
      addUser(user, item.key, item.value)
    }
  }

  const expiry = props['mqtt5MsgExpireInterval']
  if (expiry !== undefined) {
    if (!/^\d{1,5}$/.test(expiry) || Number(expiry) > 65535)
      return `userProperties.mqtt5MsgExpireInterval: must be an integer from 0 to 65535 (seconds), got ${quote(expiry)}`
    out.messageExpiryInterval = Number(expiry)
  }

  const contentType = props['mqtt5ContentType']
  if (contentType !== undefined) {
    const bad = mqttStringProblem(contentType)
    if (bad) return `userProperties.mqtt5ContentType: ${bad}`
    out.contentType = contentType
  }

  const realTopic = props['mqttRealTopic']
  if (realTopic !== undefined) {
    const bad = mqttStringProblem(realTopic)
    if (bad) return `userProperties.mqttRealTopic: ${bad}`
    addUser(user, 'mqttRealTopic', realTopic)
  }

  if (forward) {
    for (const key of Object.keys(props)) {
      if (MAPPED_PROPERTIES.has(key)) continue
      const bad = mqttStringProblem(key) ?? mqttStringProblem(props[key]!)
      if (bad) return `userProperties.${key}: ${bad}`
      addUser(user, key, props[key]!)
    }
  }

  if (Object.keys(user).length > 0) out.userProperties = user
  return out.userProperties || out.messageExpiryInterval !== undefined || out.contentType !== undefined ? out : undefined
}

/** MQTT UTF-8 strings: well-formed, no NUL, at most 65535 bytes. */
function mqttStringProblem(s: string): string | undefined {
  if (!s.isWellFormed()) return 'not well-formed Unicode'
  if (s.includes('\u0000')) return 'contains a NUL character'
  if (Buffer.byteLength(s, 'utf8') > 65535) return 'longer than 65535 bytes'
  return undefined
}
