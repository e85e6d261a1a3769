import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { IClientOptions, MqttClient } from 'mqtt'
import { registerSecret } from '../../../shared/logging/secrets.js'
import type { Publish } from '../../../shared/mapping/publish.js'
import { connectionsFor } from '../../../shared/mqtt/affinity.js'
import { topicHash } from '../../../shared/mqtt/pool.js'
import { fakePool, kinds, publishes, reasonOf, settle, TestLog } from './fakes.js'

/** A topic that the FNV-1a affinity puts on connection `member` of `size`. */
function topicOn(member: number, size: number, tag: string): string {
  for (let i = 0; ; i++) {
    const topic = `devices/${tag}/t${i}`
    if (topicHash(topic) % size === member) return topic
  }
}

const onTopic = (items: Publish[], topic: string): Publish[] => items.map((p) => ({ ...p, topic }))

describe('pool: concurrent invocations', () => {
  test('two publish() calls on one connection take turns; the bound holds across both; each gets its own outcomes', async () => {
    const { broker, pool, deadline } = fakePool()
    const logA = new TestLog()
    const logB = new TestLog()
    const a = publishes(30, { tag: 'a', topics: 3 })
    const b = publishes(30, { tag: 'b', topics: 3 })
    const callA = pool.publish(a, deadline(), logA)
    const callB = pool.publish(b, deadline(), logB)
    await settle()
    const client = broker.last
    assert.equal(client.sent.length, 20)
    assert.ok(client.sent.every((s) => s.payload.startsWith('a-')))
    for (;;) {
      if (client.unacked.length === 0) await settle()
      const next = client.unacked[0]
      if (!next) break
      assert.ok(client.unacked.length <= 20)
      if (next.payload === 'b-3') client.refuse(next, 0x87, 'Not authorized')
      else client.ack(next)
    }
    const [ra, rb] = await Promise.all([callA, callB])
    assert.equal(broker.clients.length, 1)
    assert.equal(client.maxUnacked, 20)
    assert.deepEqual(
      client.sent.map((s) => s.payload),
      [...a, ...b].map((p) => p.payload.toString()),
      "A's share goes out before B's",
    )
    assert.ok(kinds(ra).every((k) => k === 'delivered'))
    assert.equal(rb.outcomes.length, 30)
    assert.equal(rb.outcomes[3]!.kind, 'refused')
    assert.equal(kinds(rb).filter((k) => k !== 'delivered').length, 1)
    assert.equal(logA.events('mqtt.connected').length, 1)
    assert.equal(logB.lines.length, 0)
  })

  test('a connection that B finds broken after A is reopened, and B logs that to its own logger', async () => {
    const { clock, broker, pool, deadline } = fakePool()
    const logA = new TestLog()
    const logB = new TestLog()
    const callA = pool.publish(publishes(2, { tag: 'a' }), deadline(), logA)
    const callB = pool.publish(publishes(2, { tag: 'b' }), deadline(), logB)
    await settle()
    // A's acknowledgements never come: its pass times out and the connection is dropped.
    clock.advance(10_250)
    const ra = await callA
    assert.match(reasonOf(ra.outcomes[0]), /MQTT_PUBLISH_TIMEOUT_MS=10000 ms/)
    await settle()
    assert.equal(broker.clients.length, 2)
    assert.deepEqual(
      broker.last.sent.map((s) => s.payload),
      ['b-0', 'b-1'],
    )
    broker.last.ackAll()
    assert.deepEqual(kinds(await callB), ['delivered', 'delivered'])
    assert.equal(logA.events('mqtt.connected').length, 1)
    assert.equal(logB.events('mqtt.connected').length, 1)
    assert.equal(broker.clients[0]!.ended, true)
  })

  test('calls in flight on different connections log through their own loggers', async () => {
    const { broker, pool, deadline } = fakePool({ refuseV5: true, ackMode: 'async' }, { size: 2 })
    const logA = new TestLog()
    const logB = new TestLog()
    const [ra, rb] = await Promise.all([
      pool.publish(onTopic(publishes(5, { tag: 'a' }), topicOn(0, 2, 'a')), deadline(), logA),
      pool.publish(onTopic(publishes(5, { tag: 'b' }), topicOn(1, 2, 'b')), deadline(), logB),
    ])
    assert.ok([...kinds(ra), ...kinds(rb)].every((k) => k === 'delivered'))
    assert.deepEqual(
      logA.events('mqtt.connected').map((e) => e['clientId']),
      [pool.clientIds[0]],
    )
    assert.deepEqual(
      logB.events('mqtt.connected').map((e) => e['clientId']),
      [pool.clientIds[1]],
    )
    // The fallback is decided once, by whichever connection opened first, and logged once.
    assert.equal(logA.events('mqtt.protocol-fallback').length + logB.events('mqtt.protocol-fallback').length, 1)
    assert.equal(broker.clients.length, 4)
  })
})

describe('pool: topic affinity', () => {
  test('each topic stays on one connection across calls; outcomes come back at their batch positions', async () => {
    const { broker, pool, log, deadline } = fakePool({ ackMode: 'sync' }, { size: 3 })
    const items = publishes(90, { topics: 30 })
    const r1 = await pool.publish(items, deadline(), log)
    assert.ok(kinds(r1).every((k) => k === 'delivered'))
    assert.equal(broker.clients.length, 3)
    const owner = new Map<string, number>()
    broker.clients.forEach((c, n) => {
      for (const s of c.sent) {
        assert.equal(owner.get(s.topic) ?? n, n, `${s.topic} on two connections`)
        owner.set(s.topic, n)
      }
      assert.ok(c.sent.length > 0, 'every connection carries some topics')
    })
    // Per connection, batch order.
    for (const c of broker.clients) {
      const order = c.sent.map((s) => Number(s.payload.slice(2)))
      assert.deepEqual(
        order,
        [...order].sort((x, y) => x - y),
      )
    }

    // A refusal on one connection lands on its own message's position.
    for (const c of broker.clients) c.ackMode = 'manual'
    const call = pool.publish(items, deadline(), log)
    await settle()
    const target = items[47]!
    const holder = broker.clients[owner.get(target.topic)!]!
    for (const c of broker.clients)
      for (const s of c.unacked) {
        if (c === holder && s.payload === 'm-47') c.refuse(s, 0x87, 'Not authorized')
        else c.ack(s)
      }
    for (;;) {
      await settle()
      const open = broker.clients.filter((c) => c.unacked.length > 0)
      if (open.length === 0) break
      for (const c of open) c.ackAll()
    }
    const r2 = await call
    assert.deepEqual(
      r2.outcomes.flatMap((o, i) => (o.kind === 'delivered' ? [] : [[i, o.kind]])),
      [[47, 'refused']],
    )
    assert.equal(broker.clients.length, 3)
  })

  test('topicHash is FNV-1a (32 bits)', () => {
    assert.equal(topicHash(''), 0x811c9dc5)
    assert.equal(topicHash('a'), 0xe40c292c)
    assert.equal(topicHash('foobar'), 0xbf9cf968)
  })
})

describe('pool: message groups (ordered rules)', () => {
  test('without groups: a topic goes where its name hashes to (FNV-1a) while the batch is even, and every message of a topic goes to one connection', () => {
    // One topic per connection, by the hash: nothing to even out.
    const even = [0, 1, 2, 3].map((m) => topicOn(m, 4, 'even'))
    const items = [...even, ...even, ...even]
    assert.deepEqual(
      connectionsFor(items, undefined, 4),
      items.map((t) => topicHash(t) % 4),
    )
    assert.deepEqual(connectionsFor(items, new Array(items.length).fill(undefined), 4), connectionsFor(items, undefined, 4))
  })

  test('topics that hash unevenly are spread by load: the busiest connection carries no more than a set more than the idlest', () => {
    // 16 topics of 60 messages each: three put on connection 0 by the hash, one on connection 1, twelve anywhere.
    const topics = [
      ...[0, 1, 2].map((i) => topicOn(0, 4, `heavy${i}`)),
      topicOn(1, 4, 'light'),
      ...Array.from({ length: 12 }, (_, i) => `devices/spread/t${i}`),
    ]
    const batch = Array.from({ length: 16 * 60 }, (_, i) => topics[i % 16]!)
    const loads = (where: number[]) => {
      const l = [0, 0, 0, 0]
      for (const c of where) l[c]!++
      return l
    }
    const hashed = loads(batch.map((t) => topicHash(t) % 4))
    assert.ok(Math.max(...hashed) - Math.min(...hashed) > 60, `the hash alone is uneven: ${hashed}`)
    const where = connectionsFor(batch, undefined, 4)
    const spread = loads(where)
    assert.ok(Math.max(...spread) - Math.min(...spread) <= 60, `spread by load: ${spread} (by hash ${hashed})`)
    assert.deepEqual(spread, [240, 240, 240, 240])
    // Every message of a topic on one connection, so per-topic order holds.
    for (const t of topics) assert.equal(new Set(where.filter((_, i) => batch[i] === t)).size, 1, t)
  })

  test('a group over two topics of two connections goes out on the connection of the first one, with every message of both topics', () => {
    const t0 = topicOn(0, 4, 'g')
    const t3 = topicOn(3, 4, 'g')
    const lone = topicOn(2, 4, 'g')
    const where = connectionsFor([t0, lone, t3, t3, t0], ['A', undefined, 'A', undefined, undefined], 4)
    assert.deepEqual(where, [0, 2, 0, 0, 0])
    // Chained: a second group joins t3 with another topic, which then follows the first set too.
    const t1 = topicOn(1, 4, 'g')
    assert.deepEqual(connectionsFor([t0, t3, t1, t1], ['A', 'A', 'B', undefined], 4), [0, 0, 1, 1])
    assert.deepEqual(connectionsFor([t0, t3, t3, t1], ['A', 'A', 'B', 'B'], 4), [0, 0, 0, 0])
  })

  test('on a pool of 4, a group over two topics is written on one connection, one message at a time, in batch order', async () => {
    const { broker, pool, log, deadline } = fakePool({}, { size: 4 })
    const t0 = topicOn(0, 4, 'p')
    const t3 = topicOn(3, 4, 'p')
    const items = publishes(6).map((p, i) => ({ ...p, topic: i % 2 === 0 ? t0 : t3 }))
    const call = pool.publish(items, deadline(), log, new Array(6).fill('orders\u0000A'))
    await settle()
    const busy = broker.clients.filter((c) => c.sent.length > 0)
    assert.equal(busy.length, 1)
    const client = busy[0]!
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(
        client.unacked.map((s) => s.payload),
        [`m-${i}`],
      )
      client.ack()
      await settle()
    }
    assert.deepEqual(kinds(await call), new Array(6).fill('delivered'))
  })
})

describe('pool: warm', () => {
  test('opens every connection and logs each through the given logger', async () => {
    const { broker, pool, log, deadline } = fakePool({}, { size: 3 })
    await pool.warm(deadline(), log)
    assert.equal(broker.clients.length, 3)
    assert.deepEqual(
      log.events('mqtt.connected').map((e) => e['clientId']),
      pool.clientIds,
    )
    assert.equal(pool.connectionsOpened, 3)
  })

  test('a failure is a warning (mqtt.connect-failed), not an exception', async () => {
    const { pool, log, deadline } = fakePool({
      refuseWith: Object.assign(new Error('Connection refused: Server unavailable'), { code: 3 }),
    })
    await pool.warm(deadline(), log)
    assert.deepEqual(log.lines, [
      {
        level: 'warn',
        event: 'mqtt.connect-failed',
        clientId: pool.clientIds[0],
        reason: 'the MQTT broker at mqtt://broker.test:1883 refused the connection: Connection refused: Server unavailable (code 3)',
      },
    ])
  })
})

describe('pool: options', () => {
  test('safeUrl leaves credentials out; clientIds are unique per member', () => {
    const { pool } = fakePool({}, { url: 'mqtts://user:secret@broker.test:8883/mqtt', size: 3 })
    assert.equal(pool.safeUrl, 'mqtts://broker.test:8883/mqtt')
    assert.deepEqual(pool.clientIds, ['GID_unit@@@token000000', 'GID_unit@@@token000001', 'GID_unit@@@token000002'])
    assert.equal(pool.protocolVersion, undefined)
  })

  test('an empty batch touches no connection', async () => {
    const { broker, pool, log, deadline } = fakePool()
    assert.deepEqual(await pool.publish([], deadline(), log), { outcomes: [], droppedV5Properties: 0 })
    assert.equal(broker.clients.length, 0)
  })
})

describe('pool: isolation through the pool', () => {
  test('a batch of one named by a DISCONNECT 0x95 in the window pass is a dead letter (the verdict read its index after isolation dropped it)', async () => {
    const { pool, log, deadline } = fakePool({ ackMode: 'async', drops: () => ({ disconnect: 0x95 }) }, { protocol: 5 })
    const r = await pool.publish(publishes(1), deadline(), log)
    assert.deepEqual(kinds(r), ['refused'])
    assert.match(reasonOf(r.outcomes[0]), /DISCONNECT reason code 0x95 \(Packet too large\) while this message alone was unacknowledged/)
    assert.equal(log.events('mqtt.send-failed').length, 0)
  })
})

describe('pool: a connection whose send throws', () => {
  test("the other connections keep their outcomes; the thrower's positions fail, redacted, with one mqtt.send-failed line", async () => {
    registerSecret('hunter2-very-secret')
    const size = 2
    const holder: { broker?: ReturnType<typeof fakePool>['broker'] } = {}
    const f = fakePool(
      { ackMode: 'sync' },
      {
        size,
        connect: (url: string, opts: IClientOptions): MqttClient => {
          const client = holder.broker!.connect(url, opts)
          if (opts.clientId === f.pool.clientIds[1])
            (client as unknown as { publish: () => never }).publish = () => {
              throw new Error('a bug, near hunter2-very-secret')
            }
          return client
        },
      },
    )
    holder.broker = f.broker
    const good = topicOn(0, size, 'good')
    const bad = topicOn(1, size, 'bad')
    const items = publishes(6).map((p, i) => ({ ...p, topic: i % 2 === 0 ? good : bad }))
    const r = await f.pool.publish(items, f.deadline(), f.log)
    assert.deepEqual(kinds(r), ['delivered', 'failed', 'delivered', 'failed', 'delivered', 'failed'])
    assert.match(reasonOf(r.outcomes[1]), /failed unexpectedly \(a bug: please report it\): a bug, near \*+/)
    const lines = f.log.events('mqtt.send-failed')
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.level, 'error')
    assert.equal(lines[0]!['clientId'], f.pool.clientIds[1])
    assert.equal(lines[0]!['failed'], 3)
    assert.doesNotMatch(JSON.stringify([f.log.lines, r.outcomes]), /hunter2-very-secret/)
  })
})
