// Settings that work but betray a promise are said in the log once per instance, at its first invocation.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Bridge } from '../../../shared/bridge/bridge.js'
import { loadConfig } from '../../../shared/config/bridge.js'
import { loadRuleSet } from '../../../shared/rules/load.js'
import { fcContext, logEvents } from '../../helpers/fc-context.js'
import { SCENARIO_RULES } from '../../helpers/scenario.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))
const onFc = { MQTT_URL: 'mqtt://127.0.0.1:1', FC_FUNCTION_NAME: 'rocketmq-mqtt-bridge' }

describe('warnings about the configuration', () => {
  test('a file: dead-letter target on /tmp on Function Compute is warned about once', async () => {
    const bridge = new Bridge(loadConfig({ ...onFc, DEAD_LETTER_TARGET: 'file:/tmp/dead-letters' }), rules)
    try {
      const first = fcContext('req-1')
      const second = fcContext('req-2')
      await bridge.handle([], first)
      await bridge.handle([], second)
      const lines = logEvents(first, 'dead-letter.ephemeral-store')
      assert.equal(lines.length, 1)
      assert.match(String(lines[0]!['note']), /lost with the instance/)
      assert.equal(logEvents(second, 'dead-letter.ephemeral-store').length, 0)
    } finally {
      await bridge.close()
    }
  })

  test('no warning for a NAS directory, for /tmp outside Function Compute, or for the fc: default', async () => {
    for (const env of [
      { ...onFc, DEAD_LETTER_TARGET: 'file:/mnt/auto/dead-letters' },
      { ...onFc, DEAD_LETTER_TARGET: 'file:/tmpfiles/dl' },
      { MQTT_URL: 'mqtt://127.0.0.1:1', DEAD_LETTER_TARGET: 'file:/tmp/dead-letters' },
      onFc,
    ]) {
      const bridge = new Bridge(loadConfig(env), rules)
      try {
        const ctx = fcContext('req')
        await bridge.handle([], ctx)
        assert.equal(logEvents(ctx, 'dead-letter.ephemeral-store').length, 0, JSON.stringify(env))
      } finally {
        await bridge.close()
      }
    }
  })
})
