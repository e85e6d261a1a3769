// The MQTT 5 properties of a publish, from the message's RocketMQ user properties (docs/architecture.md,
// "Mapping"): mqtt5UserProperty, mqtt5MsgExpireInterval, mqtt5ContentType, mqttRealTopic, the W3C trace
// context (traceparent, tracestate) always, and with forwardUserProperties the others.

import { ok, type Result, refused } from '../errors.js'
import { mqttStringProblem } from '../rules/mqtt-strings.js'
import type { Profile } from '../rules/profiles.js'
import { quote } from '../rules/topics.js'
import type { V5Properties } from './publish.js'

/**
 * W3C trace context, as RocketMQ 5's OpenTelemetry instrumentation sets it: published as MQTT 5 user
 * properties of the same names whatever forwardUserProperties says, so a device can join the producer's
 * trace (docs/rules.md, "How a message is mapped"). On MQTT 3.1.1 they are dropped and counted, as every
 * MQTT 5 property is.
 */
const TRACE_CONTEXT = ['traceparent', 'tracestate']

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
  ...TRACE_CONTEXT,
])

/**
 * User properties are a map built from input: no prototype, so `__proto__`, `constructor` or `toString` are
 * ordinary names, forwarded exactly (docs/reliability.md, "Prototype-safe maps").
 */
export function emptyUserProperties(): Record<string, string | string[]> {
  return Object.create(null) as Record<string, string | string[]>
}

function addUser(user: Record<string, string | string[]>, key: string, value: string): void {
  const prev = user[key]
  user[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
}

/** The MQTT 5 properties of a message (undefined when it has none), or why they cannot be sent. */
export function v5Properties(props: Record<string, string>, forward: boolean, profile: Profile): Result<V5Properties | undefined> {
  // Most messages carry none of these: skip the work.
  if (
    !forward &&
    props['mqtt5UserProperty'] === undefined &&
    props['mqtt5MsgExpireInterval'] === undefined &&
    props['mqtt5ContentType'] === undefined &&
    props['mqttRealTopic'] === undefined &&
    props['traceparent'] === undefined &&
    props['tracestate'] === undefined
  )
    return NONE
  const out: V5Properties = {}
  const user = emptyUserProperties()

  const list = props['mqtt5UserProperty']
  if (list !== undefined) {
    const bytes = Buffer.byteLength(list, 'utf8')
    if (bytes > profile.userPropertyMaxBytes)
      return refused(`userProperties.mqtt5UserProperty: ${bytes} bytes; at most ${profile.userPropertyMaxBytes} allowed`)
    let parsed: unknown
    try {
      parsed = JSON.parse(list)
    } catch {
      return refused('userProperties.mqtt5UserProperty: not JSON; expected an array like [{"key":"k","value":"v"}]')
    }
    if (!Array.isArray(parsed)) return refused('userProperties.mqtt5UserProperty: must be a JSON array like [{"key":"k","value":"v"}]')
    for (let i = 0; i < parsed.length; i++) {
      const item = parsed[i] as { key?: unknown; value?: unknown } | null
      if (typeof item !== 'object' || item === null || typeof item.key !== 'string' || typeof item.value !== 'string') {
        return refused(`userProperties.mqtt5UserProperty[${i}]: must be {"key": string, "value": string}`)
      }
      const badKey = mqttStringProblem(item.key)
      if (badKey) return refused(`userProperties.mqtt5UserProperty[${i}].key: ${badKey}`)
      const badValue = mqttStringProblem(item.value)
      if (badValue) return refused(`userProperties.mqtt5UserProperty[${i}].value: ${badValue}`)
      addUser(user, item.key, item.value)
    }
  }

  const expiry = props['mqtt5MsgExpireInterval']
  if (expiry !== undefined) {
    if (!/^\d{1,5}$/.test(expiry) || Number(expiry) > 65535)
      return refused(`userProperties.mqtt5MsgExpireInterval: must be an integer from 0 to 65535 (seconds), got ${quote(expiry)}`)
    out.messageExpiryInterval = Number(expiry)
  }

  const contentType = props['mqtt5ContentType']
  if (contentType !== undefined) {
    const bad = mqttStringProblem(contentType)
    if (bad) return refused(`userProperties.mqtt5ContentType: ${bad}`)
    out.contentType = contentType
  }

  for (const name of ['mqttRealTopic', ...TRACE_CONTEXT]) {
    const value = props[name]
    if (value === undefined) continue
    const bad = mqttStringProblem(value)
    if (bad) return refused(`userProperties.${name}: ${bad}`)
    addUser(user, name, value)
  }

  if (forward) {
    for (const key of Object.keys(props)) {
      if (MAPPED_PROPERTIES.has(key)) continue
      const badKey = mqttStringProblem(key)
      if (badKey) return refused(`userProperties: the name ${quote(key)} ${badKey}`)
      const badValue = mqttStringProblem(props[key]!)
      if (badValue) return refused(`userProperties.${key.length > 80 ? `${key.slice(0, 80)}…` : key}: ${badValue}`)
      addUser(user, key, props[key]!)
    }
  }

  if (Object.keys(user).length > 0) out.userProperties = user
  return out.userProperties || out.messageExpiryInterval !== undefined || out.contentType !== undefined ? ok(out) : NONE
}

const NONE: Result<undefined> = { ok: true, value: undefined }
