// The end-to-end case shared by the integration tests and the built-bundle test: a large batch over
// three rules and 60 topics, mixed QoS, UTF-8 and binary payloads, some MQTT 5 properties.
import assert from 'node:assert/strict'
import type { Received } from './subscriber.js'

export const INSTANCE = 'MQ_INST_1234567890123456_TestInst'

export const SCENARIO_RULES = `
defaults:
  profile: alibaba
  qos: 1
rules:
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_test_commands }
    target: { parentTopic: devices }
  - id: telemetry
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: telemetry, tags: "TagA||TagB", groupId: GID_test_telemetry }
    target: { parentTopic: telemetry, qos: 0, forwardUserProperties: true }
  - id: firmware
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: firmware, groupId: GID_test_firmware }
    target: { parentTopic: firmware, qos: 2, bodyEncoding: base64 }
`

const RULES = [
  { id: 'commands', topic: 'device-commands', parent: 'devices', qos: 1 },
  { id: 'telemetry', topic: 'telemetry', parent: 'telemetry', qos: 0 },
  { id: 'firmware', topic: 'firmware', parent: 'firmware', qos: 2 },
] as const

export const SUBSCRIPTIONS = ['devices/#', 'telemetry/#', 'firmware/#']

export interface Expected {
  index: number
  ruleId: string
  topic: string
  qos: number
  payload: Buffer
  /** What a version-5 subscriber must see; a 3.1.1 subscriber sees none of it. */
  v5: { userProperties?: Record<string, string>; messageExpiryInterval?: number; contentType?: string }
}

export interface Batch {
  /** The event-streaming array of CloudEvents, as EventBridge delivers it. */
  event: unknown[]
  expected: Expected[]
}

/** Binary payloads that include NUL, 0xff and invalid UTF-8 sequences, unique per index. */
function binary(i: number): Buffer {
  const b = Buffer.alloc(24 + (i % 40))
  b.writeUInt32BE(i, 0)
  for (let k = 4; k < b.length; k++) b[k] = (i * 31 + k * 17) % 256
  b[4] = 0x00
  b[5] = 0xff
  b[6] = 0xc3 // a lone UTF-8 lead byte
  return b
}

export function cloudEvent(
  i: number,
  data: { topic: string; userProperties: Record<string, string>; body: string; tags?: string; uniq?: string },
): Record<string, unknown> {
  return {
    id: `ev-${i}`,
    source: 'RocketMQ-Function-rocketmq-trigger',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    datacontenttype: 'application/json; charset=utf-8',
    subject: `acs:mq:cn-hangzhou:1234567890123456:${INSTANCE}%${data.topic}`,
    time: new Date().toISOString(),
    aliyunaccountid: '1234567890123456',
    aliyunregionid: 'cn-hangzhou',
    data: {
      topic: data.topic,
      systemProperties: {
        UNIQ_KEY: data.uniq ?? `MSG${String(i).padStart(8, '0')}`,
        TAGS: data.tags ?? 'TagA',
        INSTANCE_ID: INSTANCE,
        CONSUME_START_TIME: Date.now(),
      },
      userProperties: data.userProperties,
      body: data.body,
    },
  }
}

/** `count` QoS 1 commands of topic device-commands over 4 MQTT topics, devices/<tag>/t0..t3, each body `<tag>-<i>`. */
export function commands(tag: string, count: number): unknown[] {
  return Array.from({ length: count }, (_, i) =>
    cloudEvent(i, {
      topic: 'device-commands',
      userProperties: { mqttSecondTopic: `/${tag}/t${i % 4}`, qoslevel: '1' },
      body: `${tag}-${i}`,
      uniq: `${tag}-${i}`,
    }),
  )
}

/** `count` messages; `idPrefix` keeps message IDs and payloads distinct across batches of one test. */
export function makeBatch(count: number, idPrefix = 'MSG'): Batch {
  const event: unknown[] = []
  const expected: Expected[] = []
  for (let i = 0; i < count; i++) {
    const rule = RULES[i % 3]!
    const sub = `/zone${Math.floor(i / 3) % 20}/dev${i % 2}`
    const userProperties: Record<string, string> = { mqttSecondTopic: sub }
    let qos: number = rule.qos
    if (i % 4 !== 3) {
      qos = (i * 7) % 3
      userProperties['qoslevel'] = String(qos)
    }
    const v5: Expected['v5'] = {}
    if (i % 10 === 0) {
      const contentType = rule.id === 'firmware' ? 'application/octet-stream' : 'text/plain; charset=utf-8'
      userProperties['mqtt5UserProperty'] = JSON.stringify([
        { key: 'seq', value: String(i) },
        { key: 'origin', value: 'order-service' },
      ])
      userProperties['mqtt5MsgExpireInterval'] = '3600'
      userProperties['mqtt5ContentType'] = contentType
      v5.userProperties = { seq: String(i), origin: 'order-service' }
      v5.messageExpiryInterval = 3600
      v5.contentType = contentType
    }
    if (rule.id === 'telemetry') {
      // Forwarded as a user property by the rule's forwardUserProperties: true.
      userProperties['deviceType'] = 'lamp'
      v5.userProperties = { ...v5.userProperties, deviceType: 'lamp' }
    }
    const payload = rule.id === 'firmware' ? binary(i) : Buffer.from(`${idPrefix} #${i} ✓ é 中文 ${'x'.repeat(i % 50)}`, 'utf8')
    const body = rule.id === 'firmware' ? payload.toString('base64') : payload.toString('utf8')
    event.push(cloudEvent(i, { topic: rule.topic, userProperties, body, uniq: `${idPrefix}${String(i).padStart(8, '0')}` }))
    expected.push({ index: i, ruleId: rule.id, topic: rule.parent + sub, qos, payload, v5 })
  }
  return { event, expected }
}

function groupByTopicAndQos(items: Array<{ topic: string; qos: number; payload: Buffer }>): Record<string, string[]> {
  const m = new Map<string, string[]>()
  for (const it of items) {
    const k = `${it.topic} qos${it.qos}`
    const list = m.get(k) ?? []
    list.push(it.payload.toString('hex'))
    m.set(k, list)
  }
  return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)))
}

/** Every topic, QoS and payload exact, nothing missing or extra, batch order per topic and QoS, and the MQTT 5 properties. */
export function assertDelivered(expected: Expected[], received: Received[], version: 4 | 5): void {
  assert.equal(received.length, expected.length, `received ${received.length} messages, expected ${expected.length}`)
  assert.deepEqual(groupByTopicAndQos(received), groupByTopicAndQos(expected))
  const byPayload = new Map(received.map((r) => [r.payload.toString('hex'), r]))
  for (const e of expected) {
    const r = byPayload.get(e.payload.toString('hex'))!
    assert.equal(r.retain, false)
    const want = version === 5 ? e.v5 : {}
    assert.deepEqual(r.userProperties ? { ...r.userProperties } : undefined, want.userProperties, `user properties of message ${e.index}`)
    assert.equal(r.contentType, want.contentType, `content type of message ${e.index}`)
    if (want.messageExpiryInterval === undefined) assert.equal(r.messageExpiryInterval, undefined, `expiry of message ${e.index}`)
    // The broker forwards the remaining lifetime: at most what was sent, and not much less.
    else
      assert.ok(
        r.messageExpiryInterval! <= 3600 && r.messageExpiryInterval! >= 3500,
        `expiry of message ${e.index}: ${r.messageExpiryInterval}`,
      )
  }
}

/** One ordered rule: RocketMQ `order-updates` to MQTT `orders`, each message group in order (docs/rules.md). */
export const ORDERED_RULES = `
defaults: { profile: alibaba, qos: 1 }
rules:
  - id: order-updates
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: order-updates, groupId: GID_test_orders }
    target: { parentTopic: orders }
    ordering: message-group
`

/** A message of the ordered rule (ORDERED_RULES): `body` published under `orders<suffix>`, its message group as sharding key. */
export function orderedMessage(i: number, m: { group: string; suffix: string; body: string; uniq: string }): Record<string, unknown> {
  const ev = cloudEvent(i, { topic: 'order-updates', userProperties: { mqttSecondTopic: m.suffix }, body: m.body, uniq: m.uniq }) as {
    data: { systemProperties: Record<string, unknown> }
  }
  ev.data.systemProperties['__SHARDINGKEY'] = m.group
  return ev
}
