// The bench's messages: 256-byte payloads that start with their batch key and sequence number (so the subscriber
// counts each batch, whoever published it), and the CloudEvents array Function Compute hands the bridge.
export const INSTANCE = 'MQ_INST_1234567890123456_Bench'
/** Topics per batch, so a pool of 4 has topics to spread over its connections. */
const TOPICS_PER_BATCH = 16

export type BenchQos = 0 | 1

/** One rule per QoS: RocketMQ topic bench-q<N> -> MQTT parent topic benchq<N>. */
export const BENCH_RULES = `
defaults:
  profile: alibaba
  qos: 1
rules:
  - id: bench-q0
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: bench-q0, groupId: GID_bench_q0 }
    target: { parentTopic: benchq0, qos: 0 }
  - id: bench-q1
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: bench-q1, groupId: GID_bench_q1 }
    target: { parentTopic: benchq1, qos: 1 }
`

export const SUBSCRIPTIONS = ['benchq0/#', 'benchq1/#']

export const parentTopic = (qos: BenchQos) => `benchq${qos}`

let keys = 0
/** A fresh key per batch: it scopes the subscriber's count and makes every message ID unique. */
export const nextKey = (prefix = 'k') => `${prefix}${(keys++).toString(36)}`

/** `<key>:<seq>:xxxx…`, 256 ASCII bytes, no newline (mosquitto_pub -l reads one per line). */
const payloadText = (key: string, seq: number) => `${key}:${seq}:`.padEnd(256, 'x')

/** Below the parent topic, as the bridge's mqttSecondTopic. */
const subTopic = (key: string, seq: number) => `/${key}/t${seq % TOPICS_PER_BATCH}`

export type PlainMessage = { topic: string; payload: Buffer }

/** The same messages for the plain MQTT.js publishers. */
export function plainMessages(key: string, count: number, qos: BenchQos): PlainMessage[] {
  return Array.from({ length: count }, (_, seq) => ({
    topic: parentTopic(qos) + subTopic(key, seq),
    payload: Buffer.from(payloadText(key, seq)),
  }))
}

/** The same messages as stdin lines for `mosquitto_pub -l`. */
export function stdinLines(key: string, count: number): string {
  return Array.from({ length: count }, (_, seq) => `${payloadText(key, seq)}\n`).join('')
}

/** Messages of `instance`'s `topic` as an event-streaming batch (a JSON array of CloudEvents), the Buffer Function Compute passes. */
export function cloudEvents(instance: string, topic: string, data: object[], ids = (i: number) => `ce-${i}`): Buffer {
  const time = new Date().toISOString()
  const events = data.map((d, i) => ({
    id: ids(i),
    source: 'RocketMQ-Function-rocketmq-trigger',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    datacontenttype: 'application/json; charset=utf-8',
    subject: `acs:mq:cn-hangzhou:1234567890123456:${instance}%${topic}`,
    time,
    aliyunaccountid: '1234567890123456',
    aliyunregionid: 'cn-hangzhou',
    data: d,
  }))
  return Buffer.from(JSON.stringify(events))
}

/** A bench batch: `count` messages of batch `key` on the rule of `qos`. */
export function cloudEventBatch(key: string, count: number, qos: BenchQos): Buffer {
  const topic = `bench-q${qos}`
  const data = Array.from({ length: count }, (_, seq) => ({
    topic,
    systemProperties: { UNIQ_KEY: `${key}-${seq}`, TAGS: 'TagA', INSTANCE_ID: INSTANCE, CONSUME_START_TIME: Date.now() },
    userProperties: { mqttSecondTopic: subTopic(key, seq) },
    body: payloadText(key, seq),
  }))
  return cloudEvents(INSTANCE, topic, data, (seq) => `${key}-${seq}`)
}

/** What the naive handler needs from an event: the messages, mapped the simplest way. */
export function naiveMessages(event: Buffer): PlainMessage[] {
  const entries = JSON.parse(event.toString('utf8')) as Array<{
    data: { topic: string; userProperties: { mqttSecondTopic: string }; body: string }
  }>
  return entries.map(({ data }) => ({
    topic: `benchq${data.topic.slice(-1)}${data.userProperties.mqttSecondTopic}`,
    payload: Buffer.from(data.body),
  }))
}
