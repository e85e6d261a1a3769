// QoS 0 packets are written to the socket directly, a refill at a time (shared/mqtt/qos0-writer.ts), and QoS 1
// and 2 through MQTT.js. On one connection, the broker reads the batch in batch order whatever the mix: a
// QoS 1 publish never overtakes QoS 0 packets held for the refill's write. The broker here records what it
// reads, in order (test/helpers/faulty-brokers.ts, behaving).
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { behaves, startFaultyBroker } from '../helpers/faulty-brokers.js'
import { fcContext } from '../helpers/fc-context.js'
import { cloudEvent, SCENARIO_RULES } from '../helpers/scenario.js'

const QOS = [0, 1, 0, 2, 0, 0, 1, 0] as const

describe('the order on the wire, QoS 0 written directly', () => {
  for (const version of ['5', '4'] as const) {
    test(`MQTT ${version === '5' ? '5' : '3.1.1'}: a batch mixing QoS 0, 1 and 2 on four topics is read in batch order`, async () => {
      const broker = await startFaultyBroker(behaves)
      const dl = mkdtempSync(join(tmpdir(), 'dl-wire-'))
      const bridge = new Bridge(
        loadConfig({ MQTT_URL: broker.url, MQTT_PROTOCOL_VERSION: version, DEAD_LETTER_TARGET: `file:${dl}` }),
        loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'wire order' })),
      )
      const count = 400
      const event = Array.from({ length: count }, (_, i) =>
        cloudEvent(i, {
          topic: 'device-commands',
          userProperties: { mqttSecondTopic: `/wire/t${i % 4}`, qoslevel: String(QOS[i % QOS.length]) },
          body: `wire-${i}`,
          uniq: `wire-${version}-${i}`,
        }),
      )
      try {
        const summary = await bridge.handle(event, fcContext(`req-wire-${version}`))
        assert.equal(summary.published, count)
        assert.deepEqual(
          broker.received.map((r) => `${r.payload} q${r.qos}`),
          Array.from({ length: count }, (_, i) => `wire-${i} q${QOS[i % QOS.length]}`),
        )
      } finally {
        await bridge.close()
        await broker.close()
      }
    })
  }
})
