// Pending: a known bug found by review (2026-12-07); fails on the current code; see the closing note.
// Review findings on the MQTT publish path (branch review-mqtt), on a real Mosquitto: each test fails on the
// code it was written against and says what the right verdict is.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, INSTANCE } from '../helpers/scenario.js'

const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: commands
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: device-commands, groupId: GID_test_commands }
    target: { parentTopic: devices }
`

function bridgeOn(broker: Broker, env: Record<string, string>): Bridge {
  const dl = mkdtempSync(join(tmpdir(), 'dl-review-'))
  const config = loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dl}`, MQTT_PUBLISH_TIMEOUT_MS: '5000', ...env })
  return new Bridge(
    config,
    loadRuleSet(undefined, () => ({ text: RULES, origin: 'review' })),
  )
}

function command(i: number, tag: string, qos: 0 | 1 | 2, body = `${tag}-${i}`) {
  return cloudEvent(i, {
    topic: 'device-commands',
    userProperties: { mqttSecondTopic: `/${tag}/t${i % 4}`, qoslevel: String(qos) },
    body,
    uniq: `${tag}-${i}`,
  })
}

/** The summary, or the counts the thrown DeliveryError reports. */
async function outcome(bridge: Bridge, event: unknown[], tag: string, timeoutS = 20): Promise<{ summary?: Summary; error?: string }> {
  try {
    return { summary: await bridge.handle(event, fcContext(`req-${tag}`, timeoutS)) }
  } catch (err) {
    return { error: (err as Error).message }
  }
}

describe(
  'review: a refusal that applies to everything (Mosquitto ACL denying every topic the rule publishes to, MQTT 5)',
  needsMosquitto(),
  () => {
    let broker: Broker | undefined
    before(async () => {
      broker = await startMosquitto({ denyTopics: ['devices/#'] })
    })
    after(async () => {
      await broker?.stop()
    })

    test('every message on every topic answered 0x87: nothing singles one out, so the invocation fails as transient and nothing is parked', async () => {
      const bridge = bridgeOn(broker!, { MQTT_PROTOCOL_VERSION: '5' })
      try {
        const event = Array.from({ length: 12 }, (_, i) => command(i, 'acl', 1))
        const r = await outcome(bridge, event, 'acl')
        assert.equal(r.summary, undefined, `returned ${JSON.stringify(r.summary)}`)
        assert.match(r.error!, /\[verdicts v1 t12\]/, r.error)
      } finally {
        await bridge.close()
      }
    })
  },
)

// Closing note: every topic the rule publishes to is denied, so each message is answered PUBACK 0x87 and is
// dead-lettered, and the invocation succeeds. docs/reliability.md documents 0x87 as the message's fault (a
// dead letter); the review asks that a refusal answering every message of every topic be read as the
// broker's (or the deployment's) trouble and fail as transient. Not fixed on branch review-mqtt: it changes
// a documented verdict and needs a rule for when a refusal "applies to everything" (all messages of a share?
// of a batch? at least how many topics?), which the coordinator should decide. Run it with
// `REQUIRE_MOSQUITTO=1 node --import tsx --test test/integration/review-mqtt.pending.ts`.
