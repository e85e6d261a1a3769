// One pooled connection, driven through a one-connection MqttPool on a fake broker and a fake clock.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { UniqueMessageIdProvider } from 'mqtt'
import { KEEPALIVE_S, negotiate } from '../../../shared/mqtt/negotiate.js'
import { fakePool, kinds, publishes, reasonOf, settle } from './fakes.js'

const IDLE_RECONNECT_MS = KEEPALIVE_S * 1000

describe('connection: opening', () => {
  test('CONNECT options, no-delay socket, one mqtt.connected line, counted', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' }, { publishTimeoutMs: 4000 })
    const r = await pool.publish(publishes(3), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered', 'delivered', 'delivered'])
    const c = broker.last
    const { messageIdProvider, ...opts } = c.opts
    // Never an identifier still in flight: MQTT.js's default allocator wraps at 65535 without asking.
    assert.ok(messageIdProvider instanceof UniqueMessageIdProvider)
    assert.deepEqual(opts, {
      protocolVersion: 5,
      clientId: 'GID_unit@@@token000000',
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      keepalive: 60,
      resubscribe: false,
      rejectUnauthorized: true,
    })
    assert.equal(c.stream.noDelay, true)
    assert.deepEqual(log.lines, [
      {
        level: 'info',
        event: 'mqtt.connected',
        clientId: 'GID_unit@@@token000000',
        url: 'mqtt://broker.test:1883',
        version: '5',
        window: 20,
      },
    ])
    assert.equal(pool.connectionsOpened, 1)
    assert.equal(pool.protocolVersion, 5)
  })

  test('auto: a broker that refuses MQTT 5 gets 3.1.1, decided once for the pool, and the fallback is logged once', async () => {
    const { broker, pool, log, deadline } = fakePool({ refuseV5: true, ackMode: 'sync' }, { size: 2 })
    const items = publishes(20, { topics: 20, properties: true })
    const r = await pool.publish(items, deadline(), log)
    assert.ok(kinds(r).every((k) => k === 'delivered'))
    assert.equal(r.droppedV5Properties, 20, 'MQTT 5 properties dropped and counted on 3.1.1')
    assert.equal(pool.protocolVersion, 4)
    assert.equal(log.events('mqtt.protocol-fallback').length, 1)
    assert.deepEqual(log.events('mqtt.protocol-fallback')[0], {
      level: 'info',
      event: 'mqtt.protocol-fallback',
      url: 'mqtt://broker.test:1883',
      version: '3.1.1',
    })
    assert.deepEqual(
      log.events('mqtt.connected').map((e) => e['version']),
      ['3.1.1', '3.1.1'],
    )
    // A reconnect after the decision goes straight to 3.1.1.
    broker.last.drop()
    const before = broker.clients.length
    await pool.publish(items, deadline(), log)
    assert.deepEqual(
      broker.clients.slice(before).map((c) => c.opts.protocolVersion),
      [4],
    )
  })

  test('no CONNACK within the bound (fake clock): failed, naming the broker and the bound', async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ silent: true }, { publishTimeoutMs: 2000 })
    const call = pool.publish(publishes(2), deadline(), log)
    await settle()
    clock.advance(1999)
    await settle()
    assert.equal(broker.clients.length, 1)
    clock.advance(1)
    const r = await call
    // auto: the close-less timeout is no protocol refusal, so 3.1.1 is not tried.
    assert.equal(broker.clients.length, 1)
    assert.equal(broker.last.ended, true)
    assert.deepEqual(kinds(r), ['failed', 'failed'])
    assert.equal(reasonOf(r.outcomes[0]), 'no CONNACK from the MQTT broker at mqtt://broker.test:1883 within 2000 ms')
  })

  test('a refused CONNECT and an exhausted deadline fail every message of the share', async () => {
    const refused = fakePool({ refuseWith: Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }) })
    const r = await refused.pool.publish(publishes(3), refused.deadline(), refused.log)
    assert.deepEqual(kinds(r), ['failed', 'failed', 'failed'])
    assert.match(reasonOf(r.outcomes[2]), /refused the connection: Connection refused: Not authorized \(code 5\)$/)

    const late = fakePool()
    const r2 = await late.pool.publish(publishes(1), late.clock.now(), late.log)
    assert.match(reasonOf(r2.outcomes[0]), /^no time left before the invocation deadline to connect to mqtt:\/\/broker\.test:1883$/)
    assert.equal(late.broker.clients.length, 0)
  })
})

describe('connection: in-flight window (MQTT_MAX_IN_FLIGHT and the receive maximum)', () => {
  for (const [receiveMaximum, protocol, maxInFlight, bound] of [
    [5, 'auto', undefined, 5],
    [undefined, 'auto', undefined, 20],
    [100, 'auto', undefined, 20],
    [5, 4, undefined, 20],
    [undefined, 4, 1, 1],
    [undefined, 'auto', 50, 50],
    [30, 'auto', 50, 30],
    [3, 'auto', 7, 3],
  ] as const) {
    test(`receive maximum ${receiveMaximum ?? 'absent'}, protocol ${protocol}, MQTT_MAX_IN_FLIGHT ${maxInFlight ?? 'default'}: at most ${bound} unacknowledged`, async () => {
      const { broker, pool, log, deadline } = fakePool(
        { receiveMaximum, ackMode: 'async' },
        { protocol, ...(maxInFlight !== undefined ? { maxInFlight } : {}) },
      )
      const items = publishes(120, { topics: 4 }).map((p, i) => ({ ...p, qos: ((i % 2) + 1) as 1 | 2 }))
      const r = await pool.publish(items, deadline(), log)
      assert.ok(kinds(r).every((k) => k === 'delivered'))
      assert.equal(broker.last.maxUnacked, bound)
      assert.deepEqual(
        broker.last.sent.map((s) => s.payload),
        items.map((i) => i.payload.toString()),
      )
    })
  }
})

describe('connection: packet limit (MQTT_MAX_PACKET_SIZE and the maximum packet size)', () => {
  const withBig = () => publishes(4).map((p, i) => (i === 1 ? { ...p, payload: Buffer.alloc(2000, 0x61) } : p))

  test("MQTT 5: the CONNACK's maximum packet size refuses a larger PUBLISH before it is written, naming both sizes", async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', maximumPacketSize: 1024 })
    const r = await pool.publish(withBig(), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered', 'refused', 'delivered', 'delivered'])
    assert.equal(
      reasonOf(r.outcomes[1]),
      'its PUBLISH packet would be 2020 bytes; the MQTT broker at mqtt://broker.test:1883 takes at most 1024 (the maximum packet size in its CONNACK)',
    )
    assert.deepEqual(
      broker.last.sent.map((s) => s.payload),
      ['m-0', 'm-2', 'm-3'],
    )
    assert.equal(broker.clients.length, 1)
  })

  test('MQTT 3.1.1: the configured limit applies, named as configured; on MQTT 5 the lower of the two', async () => {
    const limit = { bytes: 1500, source: 'MQTT_MAX_PACKET_SIZE=1500' }
    const v4 = fakePool({ ackMode: 'async', maximumPacketSize: 4096 }, { protocol: 4, maxPacketSize: limit })
    const r4 = await v4.pool.publish(withBig(), v4.deadline(), v4.log)
    assert.match(reasonOf(r4.outcomes[1]), /would be 2019 bytes; .* takes at most 1500 \(MQTT_MAX_PACKET_SIZE=1500\)$/)
    const v5 = fakePool({ ackMode: 'async', maximumPacketSize: 4096 }, { maxPacketSize: limit })
    assert.match(
      reasonOf((await v5.pool.publish(withBig(), v5.deadline(), v5.log)).outcomes[1]),
      /at most 1500 \(MQTT_MAX_PACKET_SIZE=1500\)$/,
    )
    const lower = fakePool({ ackMode: 'async', maximumPacketSize: 1024 }, { maxPacketSize: limit })
    assert.match(
      reasonOf((await lower.pool.publish(withBig(), lower.deadline(), lower.log)).outcomes[1]),
      /at most 1024 \(the maximum packet size in its CONNACK\)$/,
    )
  })
})

describe('connection: keepalive', () => {
  test(`idle ${IDLE_RECONNECT_MS - 1} ms: used as it is; idle ${IDLE_RECONNECT_MS} ms: a PINGREQ first, answered, so kept`, async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    const pings = broker.last.pings
    clock.advance(IDLE_RECONNECT_MS - 1)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.last.pings, pings, 'recently heard from: no check')
    clock.advance(IDLE_RECONNECT_MS)
    const r = await pool.publish(publishes(1, { qos: 0 }), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered'])
    assert.equal(broker.clients.length, 1)
    assert.equal(broker.last.pings, pings + 2, 'the idle check, then the QoS 0 confirmation')
  })

  test('idle past its keepalive and silent: reopened before any QoS 0 message is written to it', async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync' }, { publishTimeoutMs: 2000 })
    await pool.publish(publishes(1), deadline(), log)
    const frozen = broker.last
    frozen.ackMode = 'manual'
    clock.advance(IDLE_RECONNECT_MS)
    const call = pool.publish(publishes(5, { qos: 0 }), deadline(), log)
    await settle()
    assert.equal(frozen.pings, 1, 'the idle check')
    clock.advance(2000)
    const r = await call
    assert.deepEqual(kinds(r), new Array(5).fill('delivered'))
    assert.equal(frozen.sent.length, 1, 'nothing written to the silent connection')
    assert.equal(frozen.ended, true)
    assert.equal(broker.clients[1]!.sent.length, 5)
    assert.equal(log.events('mqtt.idle-reopen')[0]!['keepaliveS'], 60)
  })

  test('a PINGRESP owed to a PINGREQ written before the spell (read only on waking) does not pass the idle check', async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync' }, { publishTimeoutMs: 2000 })
    await pool.publish(publishes(1), deadline(), log)
    const frozen = broker.last
    frozen.ackMode = 'manual'
    // Written at the end of the last batch (the delayed-ACK nudge, say); its answer sits unread.
    frozen.sendPing()
    clock.advance(IDLE_RECONNECT_MS)
    const call = pool.publish(publishes(5, { qos: 0 }), deadline(), log)
    await settle()
    assert.equal(frozen.pings, 2, 'the idle check')
    frozen.pong()
    await settle()
    assert.equal(frozen.sent.length, 1, 'the old PINGRESP answers the old PINGREQ: nothing written yet')
    clock.advance(2000)
    assert.deepEqual(kinds(await call), new Array(5).fill('delivered'))
    assert.equal(frozen.sent.length, 1)
    assert.equal(log.events('mqtt.idle-reopen').length, 1)
  })

  test("the broker's server keepalive (MQTT 5 CONNACK) is the idle bound: 10 s", async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync', serverKeepAlive: 10 })
    await pool.publish(publishes(1), deadline(), log)
    clock.advance(9_999)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.last.pings, 0, 'within 10 s: no check')
    clock.advance(10_000)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.last.pings, 1, "after 10 s: checked, where the bridge's own 60 s would not have")
    assert.equal(broker.clients.length, 1)
  })

  test('idle counts from the last packet heard from the broker: its PINGRESPs keep a connection fresh', async () => {
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    const pings = broker.last.pings
    clock.advance(IDLE_RECONNECT_MS - 1000)
    // MQTT.js's own keepalive PINGREQ, answered.
    broker.last.sendPing()
    clock.advance(IDLE_RECONNECT_MS - 1000)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.last.pings, pings + 1, 'no check of its own')
  })
})

describe('connection: sends queued on one connection', () => {
  test('a send that waited for the connection past its own deadline writes nothing and fails as transient', async () => {
    const { clock, broker, pool, log } = fakePool({ ackMode: 'manual' })
    // Two invocations of one instance share the pool: the second's send waits for the first's to end.
    const first = pool.publish(publishes(2, { tag: 'a' }), clock.now() + 60_000, log)
    await settle()
    const second = pool.publish(publishes(2, { tag: 'b' }), clock.now() + 5_000, log)
    await settle()
    clock.advance(6_000)
    broker.last.ackAll()
    await settle()
    // Were the second send's pass to run, its watchdog would end it here.
    clock.advance(1_000)
    const [r1, r2] = await Promise.all([first, second])
    assert.deepEqual(kinds(r1), ['delivered', 'delivered'])
    assert.deepEqual(kinds(r2), ['failed', 'failed'])
    assert.match(reasonOf(r2.outcomes[0]), /invocation deadline .* before this connection was free/)
    assert.deepEqual(
      broker.last.sent.map((s) => s.payload),
      ['a-0', 'a-1'],
      'nothing of the second send was written after its deadline',
    )
  })
})

describe('connection: close', () => {
  test('close() ends the client gracefully; the next publish opens a new one', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    await pool.close()
    assert.equal(broker.last.ended, true)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.clients.length, 2)
    await pool.close()
    await pool.close()
  })

  test('close() waits for the acknowledgements in flight, then ends with DISCONNECT', async () => {
    const { clock, broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(3), deadline(), log)
    await settle()
    let closed = false
    const closing = pool.close(clock.now() + 5000).then(() => {
      closed = true
    })
    await settle()
    assert.equal(closed, false, 'three acknowledgements are still owed')
    broker.last.ackAll()
    await closing
    assert.equal(broker.last.disconnected, true)
    assert.equal(broker.last.stream.destroyed, false)
    assert.deepEqual(kinds(await call), ['delivered', 'delivered', 'delivered'])
  })

  test('close(deadline): a broker that never acknowledges does not hold it; at the deadline the socket is cut', async () => {
    const { clock, broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(3), deadline(), log)
    await settle()
    const client = broker.last
    let closed = false
    const closing = pool.close(clock.now() + 5000).then(() => {
      closed = true
    })
    clock.advance(4999)
    await settle()
    assert.equal(closed, false)
    clock.advance(1)
    await closing
    assert.equal(client.stream.destroyed, true)
    assert.equal(client.disconnected, false)
    // The batch in flight, if any, learns of the loss like any other, and ends within its deadline.
    let result: Awaited<typeof call> | undefined
    void call.then((r) => {
      result = r
    })
    for (let i = 0; i < 20 && !result; i++) {
      await settle()
      clock.advance(10_000)
    }
    assert.ok(result && kinds(result).every((k) => k === 'failed'))
  })
})

describe('connection: what the MQTT 5 CONNACK announces', () => {
  const settings = { maxInFlight: 20, packetLimit: { bytes: 1000, source: 'test' } }

  test('Maximum QoS and Retain Available are read; absent (and on 3.1.1) they mean QoS 2 and retain taken', () => {
    assert.deepEqual(
      [0, 1, undefined].map((maximumQoS) => negotiate(5, maximumQoS === undefined ? {} : { maximumQoS }, settings).maxQos),
      [0, 1, 2],
    )
    assert.equal(negotiate(5, { retainAvailable: false }, settings).retainAvailable, false)
    assert.equal(negotiate(5, { retainAvailable: true }, settings).retainAvailable, true)
    assert.deepEqual(
      [negotiate(5, undefined, settings), negotiate(4, undefined, settings)].map((n) => [n.maxQos, n.retainAvailable]),
      [
        [2, true],
        [2, true],
      ],
    )
  })
})
