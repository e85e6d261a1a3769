// Verdicts after a lost connection (docs/reliability.md, "Poison isolation"), through a one-connection MqttPool
// on a fake broker and a fake clock: what is resent and how, which message the evidence singles out, and when
// the broker's trouble fails what is left as transient.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Isolation, MAX_LOSSES } from '../../../shared/mqtt/isolation.js'
import type { PassResult } from '../../../shared/mqtt/outcome.js'
import { FakeClock, fakePool, kinds, publishes, reasonOf, settle, TestLog } from './fakes.js'

const LOST = 'the connection to the MQTT broker at mqtt://broker.test:1883 was lost before it acknowledged'
const TROUBLE = "the broker's trouble, not this message's, so the invocation is retried"

describe('connection: lost and resent, one at a time (poison isolation)', () => {
  test('closed with 3 of 10 unacknowledged: reconnects, resends those 3 alone, each after a PINGREQ, in order', async () => {
    const { broker, pool, log, deadline } = fakePool()
    const items = publishes(10)
    const call = pool.publish(items, deadline(), log)
    await settle()
    const first = broker.last
    assert.equal(first.sent.length, 10)
    for (let i = 0; i < 7; i++) first.ack()
    broker.behaviour.ackMode = 'async'
    first.drop()
    const r = await call
    assert.deepEqual(kinds(r), new Array(10).fill('delivered'))
    assert.equal(broker.clients.length, 2)
    const second = broker.last
    assert.deepEqual(
      second.sent.map((s) => s.payload),
      ['m-7', 'm-8', 'm-9'],
    )
    assert.equal(second.maxUnacked, 1, 'one at a time')
    assert.equal(second.pings, 3, 'a PINGREQ before each')
    assert.equal(log.events('mqtt.connected').length, 2)
  })

  test('the broker closes the connection each time one message is sent: it alone is refused, with a reason; the rest delivered', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-5' } })
    const r = await pool.publish(publishes(30), deadline(), log)
    assert.deepEqual(
      kinds(r)
        .map((k, i) => (k === 'delivered' ? '' : `${i}:${k}`))
        .filter(Boolean),
      ['5:refused'],
    )
    assert.equal(
      reasonOf(r.outcomes[5]),
      'the MQTT broker at mqtt://broker.test:1883 closed the connection each time this message was sent alone, 2 times (closed without a DISCONNECT reason), ' +
        'while the messages written before and after it were acknowledged; its PUBLISH packet is 22 bytes (if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit)',
    )
    // Lost in the window, alone after m-4 was acknowledged, alone again, then m-6 (the probe) acknowledged:
    // three reconnects, and nothing after it reordered.
    assert.equal(broker.clients.length, 4)
    assert.deepEqual(broker.clients[3]!.sent.map((s) => s.payload).slice(0, 1), ['m-6'])
    const sent = broker.clients.flatMap((c) => c.sent.map((s) => s.payload))
    const delivered = sent.filter((p, i) => p !== 'm-5' && sent.indexOf(p) === i)
    assert.deepEqual(
      delivered,
      publishes(30)
        .map((p) => p.payload.toString())
        .filter((p) => p !== 'm-5'),
    )
    assert.deepEqual(log.events('mqtt.broker-trouble'), [])
  })

  test('an MQTT 5 DISCONNECT about the packet names the message alone in flight: refused at once, the reason names the code', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-1', disconnect: 0x95 } })
    const r = await pool.publish(publishes(3), deadline(), log)
    assert.deepEqual(kinds(r), ['delivered', 'refused', 'delivered'])
    assert.equal(
      reasonOf(r.outcomes[1]),
      'the MQTT broker at mqtt://broker.test:1883 closed the connection with DISCONNECT reason code 0x95 (Packet too large) while this message alone was unacknowledged; its PUBLISH packet is 22 bytes',
    )
    // Lost in the window (three unconfirmed: which one?), then alone once.
    assert.equal(broker.clients.length, 3)
  })

  test('an MQTT.js error (an unreadable reason code) ends the attempt at once, is logged, and isolates the message', async () => {
    const { broker, clock, pool, log, deadline } = fakePool({
      ackMode: 'async',
      poison: { payload: 'm-2', error: 'Invalid puback reason code' },
    })
    const started = clock.now()
    const r = await pool.publish(publishes(4), deadline(), log)
    assert.equal(clock.now(), started, 'no acknowledgement timeout waited out')
    assert.deepEqual(kinds(r), ['delivered', 'delivered', 'refused', 'delivered'])
    assert.match(
      reasonOf(r.outcomes[2]),
      /^the connection to the MQTT broker at mqtt:\/\/broker\.test:1883 failed each time this message was sent alone, 2 times \(MQTT\.js: Invalid puback reason code \(the broker answered with a reason code MQTT\.js cannot read, such as 0x95/,
    )
    const errors = log.events('mqtt.client-error')
    assert.equal(errors.length, 3, 'in the window, then alone twice')
    assert.equal(broker.clients.length, 4)
    assert.deepEqual(errors[0], {
      level: 'warn',
      event: 'mqtt.client-error',
      clientId: 'GID_unit@@@token000000',
      url: 'mqtt://broker.test:1883',
      error: errors[0]!['error'],
    })
    assert.match(String(errors[0]!['error']), /^MQTT\.js: Invalid puback reason code/)
  })

  test('an MQTT.js error between batches is not swallowed: the next batch logs it', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' })
    await pool.publish(publishes(1), deadline(), log)
    broker.last.fail('Keepalive timeout')
    broker.last.drop()
    const next = new TestLog()
    assert.deepEqual(kinds(await pool.publish(publishes(1), deadline(), next)), ['delivered'])
    assert.deepEqual(next.events('mqtt.client-error'), [
      {
        level: 'warn',
        event: 'mqtt.client-error',
        clientId: 'GID_unit@@@token000000',
        url: 'mqtt://broker.test:1883',
        error: 'MQTT.js: Keepalive timeout',
        between: 'invocations',
      },
    ])
  })

  test('a broker that is down after the loss: what is left fails as transient, nothing is blamed', async () => {
    const { broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(5), deadline(), log)
    await settle()
    broker.last.ack()
    broker.behaviour.refuseWith = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    broker.last.drop()
    const r = await call
    assert.deepEqual(kinds(r), ['delivered', 'failed', 'failed', 'failed', 'failed'])
    assert.equal(reasonOf(r.outcomes[4]), 'cannot reach the MQTT broker at mqtt://broker.test:1883: ECONNREFUSED')
  })

  test('a new connection that closes before answering its PINGREQ, twice in a row: transient, nothing blamed', async () => {
    const { broker, pool, log, deadline } = fakePool()
    const call = pool.publish(publishes(3), deadline(), log)
    await settle()
    broker.last.drop()
    // Each new connection is lost before it answers its PINGREQ.
    for (let n = 2; n <= 2; n++) {
      await settle()
      assert.equal(broker.clients.length, n)
      assert.equal(broker.last.pings, 1)
      broker.last.drop()
    }
    const r = await call
    assert.deepEqual(kinds(r), ['failed', 'failed', 'failed'])
    assert.match(reasonOf(r.outcomes[0]), /was lost before it acknowledged, and the new one did not answer a PINGREQ$/)
    assert.equal(broker.clients.length, 2)
  })

  test("DISCONNECT 0x8B (server shutting down) is the broker's own reason: nothing blamed, what is left fails at once as transient, logged once", async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-0', disconnect: 0x8b } })
    const r = await pool.publish(publishes(2), deadline(), log)
    assert.deepEqual(kinds(r), ['failed', 'failed'])
    const why = 'it closed the connection for its own reason (DISCONNECT reason code 0x8b (Server shutting down))'
    assert.equal(reasonOf(r.outcomes[0]), `${LOST}: ${why}; ${TROUBLE}`)
    assert.equal(broker.clients.length, 1, 'not reconnected into a broker that is going away')
    assert.deepEqual(log.events('mqtt.broker-trouble'), [
      {
        level: 'warn',
        event: 'mqtt.broker-trouble',
        clientId: 'GID_unit@@@token000000',
        url: 'mqtt://broker.test:1883',
        verdict: 'transient',
        failed: 2,
        why,
      },
    ])
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
    assert.equal(reasonOf(r.outcomes[3]), `${LOST}, and the invocation deadline came`)
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

describe('connection: QoS 0 delivered only when the broker has read it', () => {
  test('QoS 0 written before a loss and never confirmed is resent, not reported delivered', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'manual' })
    const items = publishes(3, { qos: 0 })
    const call = pool.publish(items, deadline(), log)
    await settle()
    const first = broker.last
    first.ackAll()
    assert.equal(first.pings, 1, 'a PINGREQ behind the QoS 0 messages')
    broker.behaviour.ackMode = 'async'
    first.drop()
    const r = await call
    assert.deepEqual(kinds(r), ['delivered', 'delivered', 'delivered'])
    assert.deepEqual(
      broker.last.sent.map((s) => s.payload),
      ['m-0', 'm-1', 'm-2'],
    )
  })
})

describe("verdicts from evidence: a broker's trouble is never a message's fault", () => {
  /** Outcomes other than delivered, as `index:kind`. */
  const notDelivered = (r: Awaited<ReturnType<ReturnType<typeof fakePool>['pool']['publish']>>) =>
    kinds(r).flatMap((k, i) => (k === 'delivered' ? [] : [`${i}:${k}`]))

  for (const protocol of [4, 5] as const) {
    test(`MQTT ${protocol === 5 ? '5' : '3.1.1'}: a broker that closes on every PUBLISH: nothing refused, all transient, 4 connections, one line says why`, async () => {
      const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', drops: () => ({}) }, { protocol })
      const r = await pool.publish(publishes(10), deadline(), log)
      assert.deepEqual(kinds(r), new Array(10).fill('failed'))
      const why =
        'the connection was lost whatever was written: 4 times in a row with nothing acknowledged, messages sent alone included (last: closed without a DISCONNECT reason)'
      assert.equal(reasonOf(r.outcomes[9]), `${LOST}: ${why}; ${TROUBLE}`)
      // The window, m-0 alone twice, then m-1 (the probe): lost each time.
      assert.equal(broker.clients.length, 4)
      assert.deepEqual(
        broker.clients.map((c) => c.sent[0]!.payload),
        ['m-0', 'm-0', 'm-0', 'm-1'],
      )
      assert.deepEqual(log.events('mqtt.broker-trouble'), [
        {
          level: 'warn',
          event: 'mqtt.broker-trouble',
          clientId: 'GID_unit@@@token000000',
          url: 'mqtt://broker.test:1883',
          verdict: 'transient',
          failed: 10,
          why,
        },
      ])
    })
  }

  test('a session taken over (DISCONNECT 0x8E): transient at once, the reason string kept, not reconnected into a takeover war', async () => {
    const { broker, pool, log, deadline } = fakePool({
      ackMode: 'async',
      drops: (_, read) => (read === 3 ? { disconnect: 0x8e, reasonString: 'another client connected with this client ID' } : undefined),
    })
    const r = await pool.publish(publishes(5), deadline(), log)
    assert.deepEqual(notDelivered(r), ['0:failed', '1:failed', '2:failed', '3:failed', '4:failed'])
    assert.match(
      reasonOf(r.outcomes[0]),
      /DISCONNECT reason code 0x8e \(Session taken over\): "another client connected with this client ID"\)/,
    )
    assert.equal(broker.clients.length, 1)
    assert.equal(log.events('mqtt.broker-trouble').length, 1)
  })

  test('a broker that closes after every 4th PUBLISH, whatever it holds: each message is acknowledged on its retry, nothing refused', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', drops: (_, read) => (read % 4 === 0 ? {} : undefined) })
    const r = await pool.publish(publishes(30), deadline(), log)
    assert.deepEqual(notDelivered(r), [])
    // A loss every 3 messages: within the bound of MAX_LOSSES per share.
    assert.ok(broker.clients.length <= MAX_LOSSES, `${broker.clients.length} connections`)
    assert.equal(log.events('mqtt.broker-trouble').length, 0)
  })

  test(`the cost is bounded: a broker that closes after every 2nd PUBLISH gets ${MAX_LOSSES} connections, then what is left is transient`, async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', drops: (_, read) => (read % 2 === 0 ? {} : undefined) })
    const r = await pool.publish(publishes(200), deadline(), log)
    const outcomes = notDelivered(r)
    assert.ok(outcomes.length > 0 && outcomes.every((o) => o.endsWith(':failed')), 'nothing refused')
    assert.equal(broker.clients.length, MAX_LOSSES)
    assert.match(
      reasonOf(r.outcomes[199]),
      new RegExp(
        `: the connection was lost ${MAX_LOSSES} times in this invocation \\(last: closed without a DISCONNECT reason\\); ${TROUBLE}$`,
      ),
    )
    assert.equal(log.events('mqtt.broker-trouble').length, 1)
  })

  test('a real poison message on a broker that also closes after every 5th PUBLISH: still singled out, its siblings delivered', async () => {
    const { pool, log, deadline } = fakePool({
      ackMode: 'async',
      poison: { payload: 'm-7' },
      drops: (_, read) => (read % 5 === 0 ? {} : undefined),
    })
    const r = await pool.publish(publishes(30), deadline(), log)
    assert.deepEqual(notDelivered(r), ['7:refused'])
    assert.match(
      reasonOf(r.outcomes[7]),
      /each time this message was sent alone, 2 times .*, while the messages written before and after it were acknowledged/,
    )
  })

  test('the first message poison: singled out by the probe after it alone', async () => {
    const { pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-0' } })
    const r = await pool.publish(publishes(5), deadline(), log)
    assert.deepEqual(notDelivered(r), ['0:refused'])
    assert.match(reasonOf(r.outcomes[0]), /, while the message written after it was acknowledged;/)
  })

  test('the last message poison: singled out by the message before it alone, nothing being left to probe with', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-4' } })
    const r = await pool.publish(publishes(5), deadline(), log)
    assert.deepEqual(notDelivered(r), ['4:refused'])
    assert.match(reasonOf(r.outcomes[4]), /, while the message written before it was acknowledged;/)
    assert.equal(broker.clients.length, 3)
  })

  test('a message alone in its batch, lost each time with nothing acknowledged around it: no evidence, so transient', async () => {
    const { pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-0' } })
    const r = await pool.publish(publishes(1), deadline(), log)
    assert.deepEqual(notDelivered(r), ['0:failed'])
    assert.match(reasonOf(r.outcomes[0]), /was lost whatever was written: 3 times in a row/)
  })

  test('the probe is a message of another topic where there is one, so nothing overtakes an earlier message of its own topic', async () => {
    const items = publishes(5).map((p, i) => ({ ...p, topic: i === 4 ? 'devices/other' : 'devices/a' }))
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'async', poison: { payload: 'm-2' } })
    const r = await pool.publish(items, deadline(), log)
    assert.deepEqual(notDelivered(r), ['2:refused'])
    assert.deepEqual(
      broker.last.sent.map((s) => s.payload),
      ['m-4', 'm-3'],
      'm-4 (devices/other) probes; m-3 (devices/a) follows',
    )
  })

  test('the probe lost as well: messages in a row, the broker is the trouble; nothing refused', async () => {
    const { pool, log, deadline } = fakePool({
      ackMode: 'async',
      drops: (payload) => (payload === 'm-2' || payload === 'm-3' ? {} : undefined),
    })
    const r = await pool.publish(publishes(6), deadline(), log)
    assert.deepEqual(notDelivered(r), ['2:failed', '3:failed', '4:failed', '5:failed'])
    assert.match(reasonOf(r.outcomes[2]), /was lost whatever was written/)
  })
})

/** A fake clock that jumps an hour ahead once it has been read far more often than any pass needs: a runaway loop that only reads the clock ends instead of hanging the test. */
class RunawayClock extends FakeClock {
  reads = 0
  override now(): number {
    this.reads++
    return super.now() + (this.reads > 200_000 ? 3_600_000 : 0)
  }
}

const passOf = (over: Partial<PassResult>): PassResult => ({
  unconfirmed: [],
  unsent: [],
  settled: 0,
  acknowledged: 0,
  dropped: 0,
  downgraded: 0,
  broken: false,
  ...over,
})

describe('the probe settles without an acknowledgement (QoS 0, expired, refused unwritten, its group broken)', () => {
  // m-0 QoS 1 topic a (acknowledged), m-1 QoS 1 topic a (poison), m-2 QoS 0 topic b (the probe).
  const keys = ['t1a', 't1a', 't0b']
  const lost = { kind: 'closed' as const }
  const lostAloneTwice = () => {
    const plan = new Isolation(3, (i) => keys[i]!)
    plan.record(
      { indices: [0, 1, 2], alone: false },
      passOf({ loss: lost, acknowledged: 1, settled: 1, unconfirmed: [1, 2], broken: true }),
    )
    plan.record({ indices: [1], alone: true }, passOf({ loss: lost, unconfirmed: [1], broken: true }))
    plan.record({ indices: [1], alone: true }, passOf({ loss: lost, unconfirmed: [1], broken: true }))
    return plan
  }

  test('Isolation: a probe that went through without a PUBACK (QoS 0 confirmed by PINGRESP) still decides', () => {
    const plan = lostAloneTwice()
    assert.deepEqual(plan.next(), { indices: [2], alone: true }, 'the QoS 0 message of another topic probes')
    // The probe is written and confirmed by the PINGRESP: no loss, no acknowledgement (QoS 0 has none).
    const verdict = plan.record({ indices: [2], alone: true }, passOf({ settled: 1 }))
    assert.ok(
      verdict.poison !== undefined || verdict.transient !== undefined || plan.done,
      `a probe that went through must decide, or the plan must be done; got verdict ${JSON.stringify(verdict)}, done=${plan.done}, next=${JSON.stringify(plan.next())}`,
    )
    // What decides is the acknowledged message before it: the QoS 0 probe proves nothing.
    assert.deepEqual(verdict.poison, { index: 1, evidence: { kind: 'neighbours', losses: [lost, lost], before: true, after: false } })
    assert.equal(plan.done, true)
  })

  test('Isolation: a probe settled unacknowledged in a pass then lost still decides; the plan never offers an empty pass', () => {
    const plan = lostAloneTwice()
    const verdict = plan.record({ indices: [2], alone: true }, passOf({ loss: lost, settled: 1, broken: true }))
    assert.equal(verdict.poison?.index, 1, JSON.stringify(verdict))
    assert.equal(plan.done, true)
  })

  test('Isolation: with nothing acknowledged before it, an unacknowledged probe leaves the message transient, and it is still failed', () => {
    const plan = new Isolation(2, (i) => ['t1a', 't0b'][i]!)
    plan.record({ indices: [0, 1], alone: false }, passOf({ loss: lost, unconfirmed: [0, 1], broken: true }))
    plan.record({ indices: [0], alone: true }, passOf({ loss: lost, unconfirmed: [0], broken: true }))
    plan.record({ indices: [0], alone: true }, passOf({ loss: lost, unconfirmed: [0], broken: true }))
    assert.deepEqual(plan.next(), { indices: [1], alone: true })
    const verdict = plan.record({ indices: [1], alone: true }, passOf({ settled: 1 }))
    assert.equal(verdict.poison, undefined)
    assert.match(verdict.transient ?? '', /lost whatever was written/)
    assert.deepEqual(plan.remaining(), [0], 'the undecided message is failed with what is left')
  })

  test('pool: the poison message is refused, not left to spin until the deadline and fail as transient', async () => {
    const clock = new RunawayClock()
    const items = publishes(3).map((p, i) => ({ ...p, topic: i === 2 ? 'devices/b' : 'devices/a', qos: (i === 2 ? 0 : 1) as 0 | 1 }))
    const { pool, log } = fakePool({ ackMode: 'async', poison: { payload: 'm-1' } }, { clock })
    const r = await pool.publish(items, clock.now() + 60_000, log)
    assert.deepEqual(kinds(r), ['delivered', 'refused', 'delivered'])
    assert.ok(clock.reads < 10_000, `the connection read the clock ${clock.reads} times: a loop that never yields`)
  })
})
