// One pooled connection, driven through a one-connection MqttPool on a fake broker and a fake clock.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { IDLE_RECONNECT_MS } from '../../../shared/mqtt/connection.js'
import { fakePool, kinds, publishes, reasonOf, settle } from './fakes.js'

const LOST = 'the connection to the MQTT broker at mqtt://broker.test:1883 was lost before it acknowledged'

describe('connection: opening', () => {
  test('CONNECT options, no-delay socket, one mqtt.connected line, counted', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' }, { publishTimeoutMs: 4000 })
    const r = await pool.publish(publishes(3), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered', 'delivered', 'delivered'])
    const c = broker.last
    assert.deepEqual(
      { ...c.opts },
      {
        protocolVersion: 5,
        clientId: 'GID_unit@@@token000000',
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        keepalive: 60,
        resubscribe: false,
        rejectUnauthorized: true,
      },
    )
    assert.equal(c.stream.noDelay, true)
    assert.deepEqual(log.lines, [
      { level: 'info', event: 'mqtt.connected', clientId: 'GID_unit@@@token000000', url: 'mqtt://broker.test:1883', version: '5' },
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

describe('connection: receive maximum', () => {
  for (const [receiveMaximum, protocol, bound] of [
    [5, 'auto', 5],
    [undefined, 'auto', 20],
    [100, 'auto', 20],
    [5, 4, 20],
  ] as const) {
    test(`CONNACK receiveMaximum ${receiveMaximum ?? 'absent'} on protocol ${protocol}: at most ${bound} unacknowledged`, async () => {
      const { broker, pool, log, deadline } = fakePool({ receiveMaximum, ackMode: 'async' }, { protocol })
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

describe('connection: lost and resent', () => {
  test('closed with 3 of 10 unacknowledged: reconnects, resends exactly those 3 in order, all delivered', async () => {
    const { broker, pool, log, deadline } = fakePool()
    const items = publishes(10)
    const call = pool.publish(items, deadline(), log)
    await settle()
    const first = broker.last
    assert.equal(first.sent.length, 10)
    for (let i = 0; i < 7; i++) first.ack()
    first.drop()
    await settle()
    assert.equal(broker.clients.length, 2)
    const second = broker.last
    assert.deepEqual(
      second.sent.map((s) => s.payload),
      ['m-7', 'm-8', 'm-9'],
    )
    second.ackAll()
    const r = await call
    assert.deepEqual(kinds(r), new Array(10).fill('delivered'))
    assert.equal(log.events('mqtt.connected').length, 2)
    assert.equal(pool.connectionsOpened, 2)
  })

  test('a second loss in the same call: the still unacknowledged fail as lost; the rest keep their outcome', async () => {
    const { broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(10), deadline(), log)
    await settle()
    const first = broker.last
    for (let i = 0; i < 7; i++) first.ack()
    first.drop()
    await settle()
    const second = broker.last
    second.ack()
    second.drop()
    await settle()
    assert.equal(broker.clients.length, 2, 'one reconnect per call, no more')
    const r = await call
    assert.deepEqual(kinds(r), [...new Array(8).fill('delivered'), 'failed', 'failed'])
    assert.equal(reasonOf(r.outcomes[9]), LOST)
  })

  test('the watchdog sees the deadline first: nothing is resent, failed with the deadline as reason', async () => {
    const { clock, broker, pool, log } = fakePool()
    const call = pool.publish(publishes(4), clock.now() + 1000, log)
    await settle()
    broker.last.ack()
    clock.advance(1000)
    broker.last.drop()
    const r = await call
    assert.equal(broker.clients.length, 1)
    assert.deepEqual(kinds(r), ['delivered', 'failed', 'failed', 'failed'])
    assert.match(reasonOf(r.outcomes[1]), /^the invocation deadline/)
  })

  test('lost once the deadline has passed (between two watchdog checks): no reconnect, failed as lost', async () => {
    const { clock, broker, pool, log } = fakePool()
    // The watchdog looks every 250 ms: at 1000 the deadline (1100) is still ahead.
    const call = pool.publish(publishes(4), clock.now() + 1100, log)
    await settle()
    broker.last.ack()
    clock.advance(1100)
    broker.last.drop()
    const r = await call
    assert.equal(broker.clients.length, 1)
    assert.deepEqual(kinds(r), ['delivered', 'failed', 'failed', 'failed'])
    assert.equal(reasonOf(r.outcomes[3]), LOST)
  })

  test('a connection that dropped between invocations is reopened before use', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    broker.last.drop()
    const r = await pool.publish(publishes(2), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered', 'delivered'])
    assert.equal(broker.clients.length, 2)
    assert.equal(broker.clients[0]!.sent.length, 1)
    assert.equal(broker.clients[1]!.sent.length, 2)
  })
})

describe('connection: idle reconnect', () => {
  test(`used ${IDLE_RECONNECT_MS - 1} ms ago: kept; idle ${IDLE_RECONNECT_MS} ms: reopened before use`, async () => {
    assert.equal(IDLE_RECONNECT_MS, 60_000)
    const { clock, broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    clock.advance(IDLE_RECONNECT_MS - 1)
    await pool.publish(publishes(1), deadline(), log)
    assert.equal(broker.clients.length, 1, 'recently used: not reopened')
    clock.advance(IDLE_RECONNECT_MS)
    const r = await pool.publish(publishes(1), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered'])
    assert.equal(broker.clients.length, 2)
    assert.equal(broker.clients[0]!.ended, true, 'the idle one is closed')
    assert.equal(broker.clients[1]!.sent.length, 1)
  })

  test('idle time counts from the end of the last pass, not its start', async () => {
    const { clock, broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(1), deadline(), log)
    await settle()
    clock.advance(5000)
    broker.last.ack()
    await call
    clock.advance(IDLE_RECONNECT_MS - 1000)
    const again = pool.publish(publishes(1), deadline(), log)
    await settle()
    broker.last.ack()
    assert.deepEqual(kinds(await again), ['delivered'])
    assert.equal(broker.clients.length, 1)
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
})
