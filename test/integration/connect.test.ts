// Connecting as ApsaraMQ for MQTT documents it, and to any standard broker over TLS or WebSocket:
// signature authentication, client IDs, TLS trust, transports, and the per-connection rate limit.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import type { Logger } from '../../shared/logging/logger.js'
import type { Publish } from '../../shared/mapping/publish.js'
import { signaturePassword } from '../../shared/mqtt/auth.js'
import { clientId, clientIdProblem, instanceToken } from '../../shared/mqtt/client-id.js'
import { MqttPool, type PoolOptions, type PublishOutcome, type PublishResult } from '../../shared/mqtt/pool.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { makeBatch, SCENARIO_RULES, SUBSCRIPTIONS } from '../helpers/scenario.js'
import { subscribe } from '../helpers/subscriber.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))

function publishes(count: number, tag: string, topics: number, qos: 0 | 1 | 2 = 1): Publish[] {
  return Array.from({ length: count }, (_, i) => ({
    ruleId: 'r',
    index: i,
    topic: `devices/${tag}/t${i % topics}`,
    qos,
    retain: false,
    payload: Buffer.from(`${tag}-${i}`),
  }))
}

function pool(url: string, options: Partial<PoolOptions> = {}): MqttPool {
  return new MqttPool({
    url,
    protocol: 'auto',
    auth: { kind: 'none' },
    clientIdPrefix: 'GID_conn',
    size: 1,
    publishTimeoutMs: 3000,
    ...options,
  })
}

/** Keeps the events the pool logs, per level. */
function testLog(): Logger & { events(name: string): Array<Record<string, unknown>> } {
  const lines: Array<{ level: string } & Record<string, unknown>> = []
  const keep = (level: string) => (fields: Record<string, unknown>) => {
    lines.push({ level, ...fields })
  }
  return {
    debug: keep('debug'),
    info: keep('info'),
    warn: keep('warn'),
    error: keep('error'),
    events: (name) => lines.filter((l) => l['event'] === name),
  }
}

/** The outcomes that are not "delivered", with their positions. */
function undelivered(r: PublishResult): Array<[number, PublishOutcome]> {
  return r.outcomes.flatMap((o, i): Array<[number, PublishOutcome]> => (o.kind === 'delivered' ? [] : [[i, o]]))
}

/** Per topic, the payloads in arrival order. */
function perTopic(messages: Array<{ topic: string; payload: Buffer }>): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const m of messages) {
    out[m.topic] ??= []
    out[m.topic]!.push(m.payload.toString())
  }
  return out
}

describe('signature authentication', () => {
  test('the password matches an independent computation (openssl) for fixed inputs', () => {
    const cases = [
      ['LTAI5tSecretExample0000', 'GID_bridge@@@abcdefghij0'],
      ['s3cr3t/with+symbols=', 'GID-x@@@0'],
      ['中文密钥', 'GID_test@@@device_001'],
    ] as const
    for (const [secret, id] of cases) {
      const expected = execFileSync('sh', ['-c', 'printf %s "$ID" | openssl dgst -sha1 -hmac "$KEY" -binary | base64'], {
        env: { ...process.env, ID: id, KEY: secret },
      })
        .toString()
        .trim()
      assert.equal(signaturePassword(secret, id), expected, `${secret} / ${id}`)
    }
    // A fixed known answer, so a change of algorithm cannot pass by changing both sides.
    assert.equal(
      signaturePassword('secret', 'GID_a@@@b'),
      execFileSync('sh', ['-c', "printf %s 'GID_a@@@b' | openssl dgst -sha1 -hmac secret -binary | base64"]).toString().trim(),
    )
  })

  test('a broker that recomputes the signature from each connecting client ID accepts the pool, and refuses a wrong secret', async () => {
    const { Aedes } = await import('aedes')
    const broker = await Aedes.createBroker()
    const seen: string[] = []
    broker.authenticate = (client, username, password, done) => {
      const [mode, accessKeyId, instanceId] = (username ?? '').split('|')
      const ok =
        mode === 'Signature' &&
        accessKeyId === 'AK_test' &&
        instanceId === 'mqtt-cn-test' &&
        password?.toString() === signaturePassword('the-right-secret', client.id)
      seen.push(client.id)
      if (ok) return done(null, true)
      const err = Object.assign(new Error('bad signature'), { returnCode: 4 as const })
      done(err, false)
    }
    const server = createServer(broker.handle)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`
    const good = pool(url, {
      size: 3,
      auth: { kind: 'signature', instanceId: 'mqtt-cn-test', accessKeyId: 'AK_test', accessKeySecret: 'the-right-secret' },
    })
    const bad = pool(url, {
      auth: { kind: 'signature', instanceId: 'mqtt-cn-test', accessKeyId: 'AK_test', accessKeySecret: 'a-wrong-secret' },
    })
    const goodLog = testLog()
    const badLog = testLog()
    try {
      const r = await good.publish(publishes(60, 'sig', 20), Date.now() + 10000, goodLog)
      assert.deepEqual(undelivered(r), [])
      // Three connections, three client IDs, each signed for itself.
      assert.equal(new Set(seen).size, 3)
      // aedes speaks 3.1.1 only: the pool falls back once, and each connection says so through this call's logger.
      assert.deepEqual(
        goodLog.events('mqtt.connected').map((e) => [e['level'], e['version']]),
        [
          ['info', '3.1.1'],
          ['info', '3.1.1'],
          ['info', '3.1.1'],
        ],
      )
      assert.equal(goodLog.events('mqtt.protocol-fallback').length, 1)
      assert.equal(good.protocolVersion, 4)
      const refused = await bad.publish(publishes(2, 'sig-bad', 1), Date.now() + 10000, badLog)
      assert.equal(badLog.events('mqtt.connected').length, 0)
      for (const o of refused.outcomes) {
        assert.equal(o.kind, 'failed')
        if (o.kind !== 'failed') continue
        assert.match(o.reason, /refused the connection: Connection refused: Bad username or password \(code 4\)/)
        assert.ok(!o.reason.includes('a-wrong-secret'))
      }
    } finally {
      await good.close()
      await bad.close()
      await new Promise<void>((r) => broker.close(() => r()))
      server.close()
    }
  })
})

describe('client IDs', () => {
  test('1,000 IDs across 100 simulated instances and 10 pool members are all distinct and valid', () => {
    const ids = new Set<string>()
    for (let instance = 0; instance < 100; instance++) {
      const token = instanceToken()
      for (let member = 0; member < 10; member++) {
        const id = clientId('GID_bridge_with_a_long_group_name_x', token, member)
        assert.equal(clientIdProblem(id, true), undefined, id)
        assert.ok(id.length <= 64, id)
        ids.add(id)
      }
    }
    assert.equal(ids.size, 1000)
  })

  test('invalid IDs are named', () => {
    assert.match(clientIdProblem(`GID_x@@@${'d'.repeat(64)}`, false)!, /at most 64/)
    assert.match(clientIdProblem('bridge@@@abc', true)!, /Group ID/)
    assert.match(clientIdProblem('GID_abc@@@a.b', true)!, /only letters, digits/)
    assert.match(clientIdProblem('GID_abc', true)!, /@@@/)
  })
})

describe('TLS and WebSocket against Mosquitto', needsMosquitto(), () => {
  test('mqtts:// with the test CA delivers a batch; without it, a clear refusal', async () => {
    const broker = await startMosquitto({ tls: true })
    const sub = await subscribe(broker.url, ['devices/#'], 5)
    const trusted = pool(broker.tlsUrl!, { tls: { ca: readFileSync(broker.caFile!) } })
    const untrusted = pool(broker.tlsUrl!)
    const log = testLog()
    try {
      const r = await trusted.publish(publishes(200, 'tls', 10), Date.now() + 10000, log)
      assert.deepEqual(undelivered(r), [])
      await sub.waitFor(200)
      const refused = await untrusted.publish(publishes(3, 'tls-no-ca', 1), Date.now() + 10000, log)
      for (const o of refused.outcomes) {
        assert.equal(o.kind, 'failed')
        if (o.kind !== 'failed') continue
        assert.match(o.reason, /the TLS certificate of the MQTT broker at mqtts:\/\/127\.0\.0\.1:\d+ is not trusted: /)
        assert.match(o.reason, /: .*SELF_SIGNED_CERT_IN_CHAIN.*set MQTT_CA_FILE/)
      }
    } finally {
      await trusted.close()
      await untrusted.close()
      await sub.close()
      await broker.stop()
    }
  })

  test('insecure TLS (MQTT_TLS_INSECURE) connects without the CA', async () => {
    const broker = await startMosquitto({ tls: true })
    const p = pool(broker.tlsUrl!, { tls: { insecure: true } })
    const log = testLog()
    try {
      const r = await p.publish(publishes(5, 'insecure', 1), Date.now() + 10000, log)
      assert.deepEqual(
        log.events('mqtt.connected').map((e) => e['version']),
        ['5'],
      )
      assert.deepEqual(
        r.outcomes.map((o) => o.kind),
        ['delivered', 'delivered', 'delivered', 'delivered', 'delivered'],
      )
    } finally {
      await p.close()
      await broker.stop()
    }
  })

  test('ws:// delivers a batch through a Mosquitto websockets listener, in order per topic', async () => {
    const broker = await startMosquitto({ websockets: true })
    const sub = await subscribe(broker.url, ['devices/#'], 5)
    const p = pool(broker.wsUrl!)
    const log = testLog()
    try {
      const items = publishes(300, 'ws', 7)
      const r = await p.publish(items, Date.now() + 10000, log)
      assert.deepEqual(undelivered(r), [])
      await sub.waitFor(300)
      assert.deepEqual(perTopic(sub.messages), perTopic(items))
    } finally {
      await p.close()
      await sub.close()
      await broker.stop()
    }
  })
})

describe('rate limit', needsMosquitto(), () => {
  test("at 100 messages/s, 300 messages on one connection are paced on the pool's clock, in order", async () => {
    const broker = await startMosquitto()
    const sub = await subscribe(broker.url, ['devices/#'], 5)
    // The pool's clock is moved by hand, so the pacing is counted in its time, not the machine's; the acknowledgement
    // timeout and the deadline are far enough that moving it while an acknowledgement travels never reaches them.
    const clock = new FakeClock(Date.now())
    const p = pool(broker.url, { rateLimit: 100, clock, publishTimeoutMs: 600_000 })
    const log = testLog()
    try {
      const items = publishes(300, 'rate', 5)
      const started = clock.now()
      let result: PublishResult | undefined
      const publishing = p.publish(items, started + 3_600_000, log).then((r) => {
        result = r
      })
      for (;;) {
        const elapsed = clock.now() - started
        // At most the rate over the time passed plus a burst (2 at 100/s) have arrived: arrivals trail the writes.
        assert.ok(sub.messages.length <= Math.floor(elapsed / 10) + 3, `${sub.messages.length} arrived after ${elapsed} ms`)
        if (result !== undefined && sub.messages.length === 300) break
        // A barrier, not a sleep: what the rate allows by now (at least one per 10 ms) has arrived before time moves on.
        const due = Math.min(300, Math.floor(elapsed / 10))
        await sub.waitUntil((m) => m.length >= due, 10_000, `${due} messages by ${elapsed} ms of the pool's clock`)
        clock.advance(5)
        await new Promise((r) => setImmediate(r))
      }
      await publishing
      assert.deepEqual(undelivered(result), [])
      // One every 10 ms after a burst of 2: the 300th may not be written before 2.975 s of the pool's clock.
      assert.ok(clock.now() - started >= 2975, `done after ${clock.now() - started} ms of the pool's clock`)
      await sub.waitFor(300)
      assert.deepEqual(perTopic(sub.messages), perTopic(items))
    } finally {
      await p.close()
      await sub.close()
      await broker.stop()
    }
  })

  test('a pool of 3 with many topics: the broker log shows all three connections carrying messages, order kept per topic', async () => {
    const broker = await startMosquitto({ debugLog: true })
    const sub = await subscribe(broker.url, ['devices/#'], 5)
    const p = pool(broker.url, { size: 3, rateLimit: 200, clientIdPrefix: 'GID_spread' })
    const log = testLog()
    try {
      const items = publishes(300, 'spread', 40)
      const r = await p.publish(items, Date.now() + 20000, log)
      assert.deepEqual(undelivered(r), [])
      await sub.waitFor(300)
      assert.deepEqual(perTopic(sub.messages), perTopic(items))
      const carrying = p.clientIds.map(
        (id) =>
          broker
            .log()
            .split('\n')
            .filter((l) => l.includes(`Received PUBLISH from ${id}`)).length,
      )
      assert.equal(carrying.length, 3)
      for (const n of carrying) assert.ok(n > 0, `messages per connection: ${carrying}`)
      assert.equal(
        carrying.reduce((a, b) => a + b, 0),
        300,
      )
    } finally {
      await p.close()
      await sub.close()
      await broker.stop()
    }
  })
})

describe('through the environment', needsMosquitto(), () => {
  test('MQTT_URL=mqtts:// with MQTT_CA_FILE delivers; MQTT_TLS_INSECURE=true delivers and warns once', async () => {
    const broker = await startMosquitto({ tls: true })
    const sub = await subscribe(broker.url, SUBSCRIPTIONS, 5)
    const dl = `file:${mkdtempSync(join(tmpdir(), 'dl-'))}`
    const verified = new Bridge(loadConfig({ MQTT_URL: broker.tlsUrl!, MQTT_CA_FILE: broker.caFile!, DEAD_LETTER_TARGET: dl }), rules)
    const insecure = new Bridge(loadConfig({ MQTT_URL: broker.tlsUrl!, MQTT_TLS_INSECURE: 'true', DEAD_LETTER_TARGET: dl }), rules)
    try {
      const a = makeBatch(60, 'ENV-TLS-')
      assert.equal((await verified.handle(a.event, fcContext('req-tls'))).published, 60)
      const ctx1 = fcContext('req-insecure-1')
      const ctx2 = fcContext('req-insecure-2')
      const b = makeBatch(30, 'ENV-INSECURE-')
      assert.equal((await insecure.handle(b.event, ctx1)).published, 30)
      await insecure.handle([], ctx2)
      assert.equal(logEvents(ctx1, 'mqtt.tls-insecure').length, 1)
      assert.equal(logEvents(ctx2, 'mqtt.tls-insecure').length, 0)
      await sub.waitFor(90)
    } finally {
      await verified.close()
      await insecure.close()
      await sub.close()
      await broker.stop()
    }
  })

  test('MQTT_RATE_LIMIT and MQTT_POOL_SIZE reach the pool', async () => {
    const broker = await startMosquitto()
    const dl = `file:${mkdtempSync(join(tmpdir(), 'dl-'))}`
    const bridge = new Bridge(
      loadConfig({ MQTT_URL: broker.url, MQTT_RATE_LIMIT: '50', MQTT_POOL_SIZE: '3', DEAD_LETTER_TARGET: dl }),
      rules,
    )
    try {
      // What the pool does with them is the tests above (the pacing on the pool's clock, the connections in use).
      assert.equal(bridge.pool.options.rateLimit, 50)
      assert.equal(bridge.pool.clientIds.length, 3)
      assert.equal((await bridge.handle(makeBatch(60, 'ENV-RATE-').event, fcContext('req-rate'))).published, 60)
      assert.equal(broker.connectionsFrom(bridge.pool.clientIds[0]!.replace(/@@@.*$/, '')), 3)
    } finally {
      await bridge.close()
      await broker.stop()
    }
  })
})
