// One shared mapping, tested through both doors: the preview (validate-rules ?preview, npm run validate
// --event) must say exactly what the bridge then publishes on a real broker and what it dead-letters.

import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { type Preview, previewEvent, sha256 } from '../../shared/bridge/preview.js'
import type { Summary } from '../../shared/bridge/summary.js'
import { loadConfig } from '../../shared/config/bridge.js'
import type { FcContext } from '../../shared/fc/context.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Received, type Subscriber, subscribe } from '../helpers/subscriber.js'

const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url))

function rulesFrom(text: string): RuleSet {
  const r = validateRulesText(text)
  assert.ok(r.ok, JSON.stringify(r.ok ? '' : r.errors))
  return r.ruleSet
}

const RULES_YAML = rulesFrom(readFileSync(new URL('../../rules.yaml', import.meta.url), 'utf8'))

/** rules.yaml's home-lamps, plus a QoS 2 retained rule and a base64 one: every mapping feature in one batch. */
const RICH_RULES = rulesFrom(`
defaults: { profile: alibaba, qos: 1 }
rules:
  - id: home-lamps
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: TopicName, tags: "TagA||TagB", groupId: GID_bridge_home }
    target: { parentTopic: home, forwardUserProperties: true }
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_bridge_commands }
    target: { parentTopic: devices, qos: 2, retain: true }
  - id: firmware
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: firmware, groupId: GID_bridge_firmware }
    target: { parentTopic: firmware, qos: 0, bodyEncoding: base64 }
`)

function cloudEvent(
  id: string,
  topic: string,
  body: string,
  userProperties: Record<string, string> = {},
  tags?: string,
): Record<string, unknown> {
  return {
    id: `ce-${id}`,
    source: 'RocketMQ-Function-rocketmq-trigger',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    subject: `acs:mq:cn-hangzhou:1234567890123456:${INSTANCE}%${topic}`,
    time: new Date().toISOString(),
    data: { topic, systemProperties: { UNIQ_KEY: id, INSTANCE_ID: INSTANCE, ...(tags ? { TAGS: tags } : {}) }, userProperties, body },
  }
}

const RICH_EVENT = [
  cloudEvent('R01', 'TopicName', 'lamp on', { mqttSecondTopic: '/room1/lamp' }, 'TagA'),
  cloudEvent(
    'R02',
    'TopicName',
    '{"level":3}',
    {
      mqttSecondTopic: 'room2/lamp',
      qoslevel: '0',
      mqtt5ContentType: 'application/json',
      mqtt5MsgExpireInterval: '3600',
      mqtt5UserProperty: '[{"key":"a","value":"1"},{"key":"a","value":"2"}]',
      colour: 'warm',
    },
    'TagB',
  ),
  cloudEvent('R03', 'TopicName', 'p2p', { mqttSecondTopic: '/p2p/GID_app@@@device-7', mqttRealTopic: 'home/room1/lamp' }, 'TagA'),
  cloudEvent('R04', 'device-commands', 'reboot', { mqttSecondTopic: '/dev-9/cmd' }),
  cloudEvent('R05', 'device-commands', 'status', { mqttSecondTopic: '/dev-9/cmd', qoslevel: '2' }),
  cloudEvent('R06', 'firmware', Buffer.from([0, 1, 2, 250, 251, 252]).toString('base64'), { mqttSecondTopic: '/chunk/1' }),
  cloudEvent('R07', 'firmware', 'not base64!', { mqttSecondTopic: '/chunk/2' }),
  cloudEvent('R08', 'TopicName', 'wrong tag', {}, 'TagZ'),
  cloudEvent('R09', 'TopicName', 'bad qos', { qoslevel: 'high' }, 'TagA'),
  cloudEvent('R10', 'TopicName', 'bad topic', { mqttSecondTopic: '/a//b' }, 'TagA'),
  cloudEvent('R11', 'nobody-listens', 'lost'),
  cloudEvent('R01', 'TopicName', 'lamp on', { mqttSecondTopic: '/room1/lamp' }, 'TagA'), // a repeat: published once
  cloudEvent('R04', 'device-commands', 'reboot NOW', { mqttSecondTopic: '/dev-9/cmd' }), // same ID, other content
  { specversion: '1.0', id: 'ce-broken', data: { topic: 'TopicName' } }, // no body
  'not an object',
]

interface StoredDeadLetter {
  reason: string
  ruleId?: string
  messageId?: string
}

/** The dead-letter store's *.jsonl lines (docs/architecture.md, "Dead-letter function"). */
function storedDeadLetters(dir: string): StoredDeadLetter[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .flatMap((n) =>
      readFileSync(join(dir, n), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as StoredDeadLetter),
    )
}

const context = (requestId: string): FcContext => ({ requestId, function: { timeout: 30 } })

/** What the subscriber saw, in the preview's terms; expiry is left out (the broker counts it down). */
function received(m: Received) {
  return {
    topic: m.topic,
    qos: m.qos,
    payloadBytes: m.payload.length,
    payloadSha256: sha256(m.payload),
    userProperties: m.userProperties ? { ...m.userProperties } : null,
    contentType: m.contentType ?? null,
  }
}

function expected(p: Preview) {
  return p.publishes.map((m) => ({
    topic: m.topic,
    qos: m.qos,
    payloadBytes: m.payloadBytes,
    payloadSha256: m.payloadSha256,
    userProperties: m.properties?.userProperties ? { ...m.properties.userProperties } : null,
    contentType: m.properties?.contentType ?? null,
  }))
}

const byKey = <T extends { topic: string; payloadSha256: string }>(xs: T[]) =>
  [...xs].sort((a, b) => `${a.topic} ${a.payloadSha256}`.localeCompare(`${b.topic} ${b.payloadSha256}`))

describe('preview = what the bridge publishes (Mosquitto, MQTT 5)', needsMosquitto(), () => {
  let broker: Broker
  let sub: Subscriber

  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, ['#'], 5)
  })
  after(async () => {
    await sub.close()
    await broker.stop()
  })

  /**
   * Runs the event through a fresh bridge (no delivered-message memory) and collects what happened: once the
   * bridge has returned (every publish acknowledged) and closed, a sentinel on each topic and QoS the preview
   * announced is the barrier, so whatever the bridge sent, announced or not, has arrived before it.
   */
  async function throughBridge(event: Buffer, ruleSet: RuleSet, preview: Preview, name: string) {
    sub.messages.length = 0
    const deadLetters = mkdtempSync(join(tmpdir(), 'preview-dl-'))
    const bridge = new Bridge(
      loadConfig({ MQTT_URL: broker.url, MQTT_PROTOCOL_VERSION: '5', DEAD_LETTER_TARGET: `file:${deadLetters}`, LOG_LEVEL: 'error' }),
      ruleSet,
    )
    let summary: Summary
    try {
      summary = await bridge.handle(event, context(`preview-${name}`))
    } finally {
      await bridge.close()
    }
    await barrier(viaClient(broker.url), [sub], preview.publishes)
    return { summary, messages: withoutSentinels(sub.messages), stored: storedDeadLetters(deadLetters) }
  }

  for (const name of ['rocketmq-stream-batch.json', 'rocketmq-event-driven.json', 'rocketmq-rawdata-batch.json']) {
    test(`sample ${name} with rules.yaml`, async () => {
      const event = fixture(name)
      const preview = previewEvent(event, RULES_YAML)
      assert.equal(preview.publishes.length, 1)
      const { summary, messages, stored } = await throughBridge(event, RULES_YAML, preview, name)
      assert.deepEqual(messages.map(received), expected(preview))
      assert.equal(messages[0]!.payload.toString('utf8'), preview.publishes[0]!.payloadText)
      assert.equal(summary.published, preview.publishes.length)
      assert.equal(summary.deadLettered, preview.deadLetters.length)
      assert.deepEqual(stored, [])
    })
  }

  test('a batch with every mapping feature and every kind of dead letter', async () => {
    const event = Buffer.from(JSON.stringify(RICH_EVENT))
    const preview = previewEvent(event, RICH_RULES)
    // The preview itself says something worth comparing.
    assert.equal(preview.publishes.length, 6)
    assert.equal(preview.deadLetters.length, 8)
    assert.equal(preview.duplicates, 1)
    assert.deepEqual(new Set(preview.publishes.map((p) => p.qos)), new Set([0, 1, 2]))

    const { summary, messages, stored } = await throughBridge(event, RICH_RULES, preview, 'rich')

    assert.deepEqual(byKey(messages.map(received)), byKey(expected(preview)))
    // Per topic and QoS, the batch order (MQTT promises no more).
    for (const key of new Set(preview.publishes.map((p) => `${p.topic} ${p.qos}`))) {
      const sent = preview.publishes.filter((p) => `${p.topic} ${p.qos}` === key).map((p) => p.payloadSha256)
      assert.deepEqual(
        messages.filter((m) => `${m.topic} ${m.qos}` === key).map((m) => sha256(m.payload)),
        sent,
        key,
      )
    }
    // The expiry the broker forwards is the announced one, less at most the seconds the message waited.
    const withExpiry = preview.publishes.find((p) => p.properties?.messageExpiryInterval !== undefined)!
    const got = messages.find((m) => m.topic === withExpiry.topic)!
    assert.ok(
      got.messageExpiryInterval! <= withExpiry.properties!.messageExpiryInterval! &&
        got.messageExpiryInterval! >= withExpiry.properties!.messageExpiryInterval! - 5,
    )

    assert.equal(summary.received, preview.received)
    assert.equal(summary.published, preview.publishes.length)
    assert.equal(summary.duplicates, preview.duplicates)
    assert.equal(summary.deadLettered, preview.deadLetters.length)
    const key = (d: StoredDeadLetter) => `${d.messageId ?? '-'} ${d.ruleId ?? '-'} ${d.reason}`
    assert.deepEqual(stored.map(key).sort(), preview.deadLetters.map(key).sort())

    // retain: live subscribers see retain=false (MQTT); a new subscriber gets the last retained message.
    const retained = preview.publishes.filter((p) => p.retain)
    assert.deepEqual(
      retained.map((p) => p.topic),
      ['devices/dev-9/cmd', 'devices/dev-9/cmd'],
    )
    const late = await subscribe(broker.url, ['devices/#'], 5)
    try {
      const [m] = await late.waitFor(1, 5000)
      assert.equal(m!.retain, true)
      assert.equal(sha256(m!.payload), retained[retained.length - 1]!.payloadSha256)
    } finally {
      await late.close()
    }
  })
})
