// Fault injection against a Mosquitto child process the test controls: killed, restarted, frozen,
// refusing authentication. The promise under test: every message is acknowledged by the broker, or the
// invocation fails (so Function Compute retries it), or it is a dead letter with a reason. Lost = 0.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, type TestContext as NodeTestContext, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent, SCENARIO_RULES } from '../helpers/scenario.js'
import { type PersistentSubscriber, persistentSubscriber } from '../helpers/subscriber.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))

/** `count` QoS 1 messages over 100 topics of the `commands` rule. */
function qos1Batch(count: number, prefix: string): unknown[] {
  return Array.from({ length: count }, (_, i) =>
    cloudEvent(i, {
      topic: 'device-commands',
      userProperties: { mqttSecondTopic: `/fleet/dev${i % 100}`, qoslevel: '1' },
      body: `${prefix}-${i}-${'p'.repeat(200)}`,
      uniq: `${prefix}-${i}`,
    }),
  )
}

function bridgeFor(broker: Broker, env: Record<string, string>): Bridge & { deadLetters: string } {
  const dl = mkdtempSync(join(tmpdir(), 'dl-'))
  return Object.assign(new Bridge(loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${dl}`, ...env }), rules), {
    deadLetters: dl,
  })
}

/** How many of the messages `qos1Batch(count, prefix)` made a subscriber holds, each counted once. */
function distinctOf(sub: PersistentSubscriber, prefix: string, count: number): number {
  const sent = new Set(qos1Batch(count, prefix).map((e) => Buffer.from((e as { data: { body: string } }).data.body).toString('hex')))
  return [...sub.distinct].filter((hex) => sent.has(hex)).length
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

function report(t: NodeTestContext, row: Record<string, unknown>): void {
  t.diagnostic(`outcome ${JSON.stringify(row)}`)
}

for (const poolSize of [1, 4]) {
  describe(`faults with MQTT_POOL_SIZE=${poolSize}`, needsMosquitto(), () => {
    // SIGTERM, not SIGKILL: Mosquitto then saves what it acknowledged. A SIGKILLed broker loses messages it
    // acknowledged but had not persisted yet (autosave runs every second): broker durability, which no
    // publisher can see. The bridge's side, counting only acknowledged messages, is the same either way.
    test('broker stopped mid-batch: the invocation fails within the bound, saying how many are unconfirmed; the retry completes; lost = 0', async (t) => {
      const broker = await startMosquitto({ persistence: true })
      const logged = broker.log().length
      const sub = await persistentSubscriber(broker.url, ['devices/#'])
      // Mosquitto saves its persistence file every second: the barrier is its log line saying it saved, with the subscriber's session.
      await until(
        () => broker.log().slice(logged).includes('Saving in-memory database'),
        10000,
        "Mosquitto's save after the subscriber connected",
      )
      const bridge = bridgeFor(broker, { MQTT_POOL_SIZE: String(poolSize), MQTT_PUBLISH_TIMEOUT_MS: '2000' })
      const event = qos1Batch(5000, `KILL${poolSize}`)
      try {
        const first = bridge.handle(event, fcContext('req-kill', 20))
        first.catch(() => {})
        await until(() => sub.distinct.size >= 500, 10000, 'the first 500 messages')
        await broker.stop('SIGTERM')
        let unconfirmed = 0
        await assert.rejects(first, (err: Error) => {
          assert.ok(err instanceof DeliveryError, String(err))
          assert.match(err.message, /^\d+ of 5000 messages not delivered: /)
          assert.match(err.message, /lost|cannot reach|closed/)
          // It failed on the loss, before the function timeout: not on the invocation deadline.
          assert.doesNotMatch(err.message, /invocation deadline/)
          unconfirmed = err.failed
          return true
        })
        assert.ok(unconfirmed > 0 && unconfirmed < 5000, `unconfirmed ${unconfirmed}`)

        await broker.start()
        const retry = await bridge.handle(event, fcContext('req-kill-retry', 20))
        assert.equal(retry.published, unconfirmed, 'the retry sends exactly what was not acknowledged')
        assert.equal(retry.duplicates, 5000 - unconfirmed, 'what was acknowledged is not sent again')
        await sub.waitForDistinct(5000)
        const delivered = distinctOf(sub, `KILL${poolSize}`, 5000)
        // A fault is a retry, never a dead letter: none of these messages is poison.
        const deadLettered = retry.deadLettered + (await readDeadLetters(bridge.deadLetters)).length
        assert.deepEqual({ delivered, deadLettered }, { delivered: 5000, deadLettered: 0 })
        report(t, {
          fault: 'stopped mid-batch (SIGTERM)',
          poolSize,
          sent: 5000,
          unconfirmedFirstAttempt: unconfirmed,
          delivered,
          duplicated: sub.duplicates(),
          deadLettered,
          lost: 5000 - delivered,
        })
      } finally {
        await bridge.close()
        await sub.close()
        await broker.stop()
      }
    })

    test('broker restarted between invocations: the next invocation succeeds on its first attempt', async (t) => {
      const broker = await startMosquitto()
      const sub = await persistentSubscriber(broker.url, ['devices/#'])
      const bridge = bridgeFor(broker, { MQTT_POOL_SIZE: String(poolSize), MQTT_PUBLISH_TIMEOUT_MS: '2000' })
      try {
        assert.equal((await bridge.handle(qos1Batch(200, `BEFORE${poolSize}`), fcContext('req-1'))).published, 200)
        await sub.waitForDistinct(200)
        const deliveredBefore = distinctOf(sub, `BEFORE${poolSize}`, 200)
        const connectionsBefore = broker.connectionsFrom('GID_bridge@@@')
        await broker.stop('SIGKILL')
        await broker.start()
        // The broker lost every session with its process: a new subscriber sees what follows.
        const sub2 = await persistentSubscriber(broker.url, ['devices/#'])
        const after = await bridge.handle(qos1Batch(200, `AFTER${poolSize}`), fcContext('req-2'))
        assert.equal(after.published, 200)
        await sub2.waitForDistinct(200)
        const deliveredAfter = distinctOf(sub2, `AFTER${poolSize}`, 200)
        // Each connection of the pool was opened once more, on first use after the restart, and no more.
        assert.equal(broker.connectionsFrom('GID_bridge@@@') - connectionsBefore, poolSize, 'connections reopened')
        assert.equal(deliveredBefore + deliveredAfter, 400)
        report(t, {
          fault: 'restarted between invocations',
          poolSize,
          sent: 400,
          delivered: deliveredBefore + deliveredAfter,
          lost: 400 - deliveredBefore - deliveredAfter,
        })
        await sub2.close()
      } finally {
        await bridge.close()
        await sub.close()
        await broker.stop()
      }
    })

    test('broker frozen with SIGSTOP: the invocation fails before its deadline; after SIGCONT a new invocation succeeds', async (t) => {
      const broker = await startMosquitto()
      const sub = await persistentSubscriber(broker.url, ['devices/#'])
      const bridge = bridgeFor(broker, { MQTT_POOL_SIZE: String(poolSize), MQTT_PUBLISH_TIMEOUT_MS: '1500' })
      try {
        await bridge.initialize(fcContext('init'))
        const event = qos1Batch(300, `STOP${poolSize}`)
        broker.pause()
        await assert.rejects(bridge.handle(event, fcContext('req-stop', 10)), (err: Error) => {
          assert.match(
            err.message,
            /300 of 300 messages not delivered.*(no acknowledgement from the MQTT broker at .* within MQTT_PUBLISH_TIMEOUT_MS=1500 ms|no CONNACK)/,
          )
          // MQTT_PUBLISH_TIMEOUT_MS ended it, before the 10 s function timeout less its margin: not the invocation deadline.
          assert.doesNotMatch(err.message, /invocation deadline/)
          return true
        })
        broker.resume()
        const retry = await bridge.handle(event, fcContext('req-cont', 10))
        // The first attempt had none acknowledged, so none counts as delivered: the retry sends all 300.
        assert.deepEqual([retry.published, retry.duplicates, retry.failed], [300, 0, 0])
        await sub.waitForDistinct(300)
        const delivered = distinctOf(sub, `STOP${poolSize}`, 300)
        assert.equal(delivered, 300)
        report(t, {
          fault: 'SIGSTOP then SIGCONT',
          poolSize,
          sent: 300,
          delivered,
          duplicated: sub.duplicates(),
          lost: 300 - delivered,
        })
      } finally {
        broker.resume()
        await bridge.close()
        await sub.close()
        await broker.stop()
      }
    })
  })
}

describe('bounds and refusals', needsMosquitto(), () => {
  test('a frozen broker with a long acknowledgement timeout: the invocation deadline (timeout less margin) ends the wait', async () => {
    const broker = await startMosquitto()
    const bridge = bridgeFor(broker, { MQTT_PUBLISH_TIMEOUT_MS: '60000' })
    try {
      await bridge.initialize(fcContext('init'))
      broker.pause()
      // A function timeout of 0.5 s: nothing but the deadline (0.45 s) can end a wait whose acknowledgement timeout is 60 s.
      await assert.rejects(bridge.handle(qos1Batch(50, 'DEADLINE'), fcContext('req-deadline', 0.5)), (err: Error) => {
        assert.ok(err instanceof DeliveryError)
        // All 50 for the one reason: the deadline.
        assert.match(
          err.message,
          /^50 of 50 messages not delivered: 50 × the invocation deadline \(Function Compute timeout less a safety margin\) was reached before the broker acknowledged\./,
        )
        return true
      })
    } finally {
      broker.resume()
      await bridge.close()
      await broker.stop()
    }
  })

  test('authentication refused: a clear error with no secret in it or in any log line', async () => {
    const secret = 'wr0ng-S3cret-value'
    const broker = await startMosquitto({ password: { username: 'bridge', password: 'right-password-123' } })
    const bad = bridgeFor(broker, { MQTT_AUTH: 'password', MQTT_USERNAME: 'bridge', MQTT_PASSWORD: secret, MQTT_PROTOCOL_VERSION: '5' })
    const good = bridgeFor(broker, { MQTT_AUTH: 'password', MQTT_USERNAME: 'bridge', MQTT_PASSWORD: 'right-password-123' })
    try {
      const ctx = fcContext('req-auth')
      await assert.rejects(bad.handle(qos1Batch(5, 'AUTH'), ctx), (err: Error) => {
        assert.match(
          err.message,
          /5 of 5 messages not delivered.*the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the connection: Connection refused: (Not authorized|Bad User Name or Password) \(code 13[45]\)/,
        )
        assert.ok(!err.message.includes(secret))
        return true
      })
      // The lines that would carry a leaked secret are there: one per refused message, and the invocation's.
      const failures = logEvents(ctx, 'bridge.failure')
      assert.equal(failures.length, 5)
      for (const f of failures) assert.match(String(f['reason']), /refused the connection/)
      assert.equal(logEvents(ctx, 'bridge.invocation')[0]!['outcome'], 'retry')
      for (const line of ctx.lines) assert.ok(!line.includes(secret), line)
      assert.equal((await good.handle(qos1Batch(5, 'AUTH'), fcContext('req-auth-ok'))).published, 5)
    } finally {
      await bad.close()
      await good.close()
      await broker.stop()
    }
  })
})
