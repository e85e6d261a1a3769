// MQTT_PROTOCOL_VERSION=auto against a broker that speaks only MQTT 3.1.1 (the embedded aedes broker).
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startAedes } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { assertDelivered, makeBatch, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))
let broker: Broker
let sub: Subscriber

function bridge(protocol: string): Bridge {
  return new Bridge(
    loadConfig({
      MQTT_URL: broker.url,
      MQTT_PROTOCOL_VERSION: protocol,
      MQTT_PUBLISH_TIMEOUT_MS: '2000',
      DEAD_LETTER_TARGET: `file:${mkdtempSync(join(tmpdir(), 'dl-'))}`,
    }),
    rules,
  )
}

before(async () => {
  broker = await startAedes()
  sub = await subscribe(broker.url, SUBSCRIPTIONS, 4)
})
after(async () => {
  await sub.close()
  await broker.stop()
})

test('auto falls back to MQTT 3.1.1 when the broker refuses MQTT 5, and delivers the batch', async () => {
  const b = bridge('auto')
  try {
    const batch = makeBatch(300, 'AUTO-')
    const ctx = fcContext('req-auto')
    const summary = await b.handle(batch.event, ctx)
    assert.equal(summary.published, 300)
    assert.equal(b.pool.protocolVersion, 4)
    assert.equal(logEvents(ctx, 'mqtt.protocol-fallback').length, 1)
    assert.ok(summary.droppedV5Properties > 0, 'MQTT 5 properties are dropped and counted on 3.1.1')
    await sub.waitFor(300)
    assertDelivered(batch.expected, sub.messages, 4)
  } finally {
    await b.close()
  }
})

test('MQTT_PROTOCOL_VERSION=5 against a 3.1.1-only broker fails with a clear error, not a fallback', async () => {
  const b = bridge('5')
  try {
    await assert.rejects(
      b.handle(makeBatch(3, 'V5-').event, fcContext('req-v5')),
      /3 of 3 messages not delivered: 3 × .*MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+/,
    )
    assert.equal(b.pool.protocolVersion, 5)
  } finally {
    await b.close()
  }
})
