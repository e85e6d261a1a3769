import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TokenBucket } from '../../../shared/mqtt/token-bucket.js'
import { MAX_UNWRITTEN_QOS0 } from '../../../shared/mqtt/window-client.js'
import { type FakeClient, FakeClock, publishes, reasonOf, settle, windowPass } from './fakes.js'

const URL = 'mqtt://broker.test:1883'
const pass = windowPass

/** Acknowledges one publish at a time, checking the bound before each, until nothing is outstanding. */
function ackOneByOne(client: FakeClient, bound: number): void {
  while (client.unacked.length > 0) {
    assert.ok(client.unacked.length <= bound, `${client.unacked.length} outstanding, bound ${bound}`)
    client.ack()
  }
}

describe('publish window: in-flight bound and order', () => {
  test('with a window of 5, never more than 5 unacknowledged; written in batch order', async () => {
    const items = publishes(50, { topics: 3 })
    const p = pass(items, 'manual', { maxInFlight: 5 })
    assert.equal(p.client.sent.length, 5)
    p.client.ack()
    assert.equal(p.client.sent.length, 6, 'each acknowledgement lets exactly one more in')
    ackOneByOne(p.client, 5)
    const r = await p.done
    assert.equal(p.client.maxUnacked, 5)
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      items.map((i) => i.payload.toString()),
    )
    assert.deepEqual(r, { unconfirmed: [], unsent: [], settled: 50, acknowledged: 50, dropped: 0, downgraded: 0, broken: false })
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
    assert.equal(p.clock.pending, 0, 'the watchdog is cleared')
  })

  test('with the default window, 20 in flight at once', async () => {
    const p = pass(publishes(100), 'manual')
    assert.equal(p.client.sent.length, 20)
    ackOneByOne(p.client, 20)
    await p.done
    assert.equal(p.client.maxUnacked, 20)
    assert.equal(p.client.sent.length, 100)
  })

  test('a mixed-QoS batch acknowledged out of order completes, each outcome at its own position', async () => {
    const items = publishes(200, { topics: 7 }).map((p, i) => ({ ...p, qos: (i % 3) as 0 | 1 | 2 }))
    const p = pass(items, 'manual')
    while (p.client.unacked.length > 0) p.client.ack(p.client.unacked.at(-1))
    await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.opts.qos),
      items.map((i) => i.qos),
    )
    assert.equal(p.client.maxUnacked, 20)
  })

  test('only the given indices are sent, in their order, and only their outcomes are written', async () => {
    const items = publishes(6)
    const p = pass(items, 'manual', { indices: [2, 5] })
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      ['m-2', 'm-5'],
    )
    p.client.refuse(p.client.sent[1]!, 0x87, 'Not authorized')
    p.client.ack()
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'refused'],
    )
  })
})

describe('publish window: acknowledgements', () => {
  test('PUBCOMP 0x92 (Packet Identifier not found) after a successful PUBREC: the broker took the message; it is not a dead letter', async () => {
    const p = windowPass(publishes(1, { qos: 2 }))
    p.client.refuse(p.client.sent[0]!, 0x92, 'Publish error: Packet Identifier not found')
    await p.done
    assert.notEqual(p.outcomes[0]!.kind, 'refused', JSON.stringify(p.outcomes[0]))
  })

  for (const code of [0x88, 0x8b, 0x8e, 0x98, 0x9c, 0x9d, 0x9f]) {
    test(`PUBACK 0x${code.toString(16)} (a broker's own reason, as the DISCONNECT table says): transient, not a dead letter`, async () => {
      const p = windowPass(publishes(1))
      p.client.refuse(p.client.sent[0]!, code)
      await p.done
      assert.equal(p.outcomes[0]!.kind, 'failed', JSON.stringify(p.outcomes[0]))
    })
  }

  test('PUBACK reason codes: 0x87 is refused with its code; 0x97 and 0x80 fail; no code fails', async () => {
    const p = pass(publishes(5), 'manual')
    const [a, b, c, d, e] = p.client.sent
    p.client.refuse(a!, 0x87, 'Not authorized')
    p.client.refuse(b!, 0x97, 'Quota exceeded')
    p.client.refuse(c!, 0x80, 'Unspecified error')
    p.client.refuse(d!, undefined, 'Connection closed')
    p.client.ack(e)
    await p.done
    assert.deepEqual(p.outcomes[0], {
      kind: 'refused',
      code: 0x87,
      reason: `the MQTT broker at ${URL} rejected the publish: Not authorized (reason code 0x87)`,
    })
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['refused', 'failed', 'failed', 'failed', 'delivered'],
    )
    assert.match(reasonOf(p.outcomes[1]), /Quota exceeded \(reason code 0x97\)$/)
  })

  test("the broker's reason string (MQTT 5) reaches the outcome, from the acknowledgement MQTT.js hands the callback", async () => {
    const p = pass(publishes(1), 'manual')
    p.client.refuse(p.client.sent[0]!, 0x87, 'Publish error: Not authorized', 'Publishing to this topic is forbidden by service policy')
    await p.done
    assert.deepEqual(p.outcomes[0], {
      kind: 'refused',
      code: 0x87,
      reason: `the MQTT broker at ${URL} rejected the publish: Publish error: Not authorized (reason code 0x87): "Publishing to this topic is forbidden by service policy"`,
    })
  })

  test('a second callback for the same publish is ignored', async () => {
    const p = pass(publishes(2), 'manual')
    const first = p.client.sent[0]!
    p.client.ack(first)
    first.cb(Object.assign(new Error('late'), { code: 0x87 }))
    p.client.ack()
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'delivered'],
    )
  })

  test('QoS 0 callbacks that run inside publish() do not recurse: 5,000 complete, one publish() deep', async () => {
    const items = publishes(5000, { qos: 0, topics: 10 })
    const p = pass(items, 'sync')
    const r = await p.done
    assert.equal(p.client.sent.length, 5000)
    assert.equal(p.client.maxDepth, 1)
    assert.equal(r.broken, false)
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
    assert.equal(p.client.sent.at(-1)!.payload, 'm-4999')
  })

  test('a connection that closes mid-pass: the unacknowledged and the unsent are reported apart, in order', async () => {
    const p = pass(publishes(30), 'manual')
    for (let i = 0; i < 7; i++) p.client.ack()
    p.client.drop()
    const r = await p.done
    assert.deepEqual(r, {
      unconfirmed: Array.from({ length: 20 }, (_, i) => i + 7),
      unsent: [27, 28, 29],
      loss: { kind: 'closed' },
      settled: 7,
      acknowledged: 7,
      dropped: 0,
      downgraded: 0,
      broken: true,
    })
    for (const event of ['close', 'error', 'disconnect', 'packetsend', 'packetreceive'])
      assert.equal(p.client.listenerCount(event), 0, event)
  })
})

describe('publish window: timeouts', () => {
  test('MQTT_PUBLISH_TIMEOUT_MS: the outstanding ones fail, the settled keep their outcome', async () => {
    const p = pass(publishes(4), 'manual', { publishTimeoutMs: 1000 })
    p.client.refuse(p.client.sent[0]!, 0x87)
    p.client.ack(p.client.sent[1])
    p.clock.advance(1000)
    await settle(1)
    assert.equal(p.result(), undefined, 'exactly the timeout is not yet over it')
    p.clock.advance(250)
    const r = await p.done
    assert.equal(r.broken, true)
    assert.deepEqual(
      [r.unconfirmed, r.unsent, r.timedOut],
      [[], [], `no acknowledgement from the MQTT broker at ${URL} within MQTT_PUBLISH_TIMEOUT_MS=1000 ms`],
    )
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['refused', 'delivered', 'failed', 'failed'],
    )
    assert.equal(reasonOf(p.outcomes[3]), `no acknowledgement from the MQTT broker at ${URL} within MQTT_PUBLISH_TIMEOUT_MS=1000 ms`)
    // A late acknowledgement changes nothing.
    p.client.ack(p.client.sent[2])
    assert.equal(p.outcomes[2]!.kind, 'failed')
    assert.equal(p.clock.pending, 0)
  })

  test('a message unanswered past the timeout while the broker answers others fails alone; its place is kept until the broker answers it', async () => {
    // Six topics: a later message of m-0's own topic would not be sent (the next test).
    const p = pass(publishes(6, { topics: 6 }), 'manual', { publishTimeoutMs: 1000, maxInFlight: 3 })
    const stuck = p.client.sent[0]!
    p.clock.advance(600)
    p.client.ack(p.client.sent[1])
    p.client.ack(p.client.sent[2])
    assert.deepEqual(p.written(), ['m-0', 'm-1', 'm-2', 'm-3', 'm-4'])
    p.clock.advance(650)
    assert.equal(p.result(), undefined, 'the broker answered within the timeout: the pass goes on')
    assert.match(reasonOf(p.outcomes[0]), /within MQTT_PUBLISH_TIMEOUT_MS=1000 ms$/)
    assert.equal(p.client.sent.length, 5, 'm-0 still holds its place in the window of 3')
    p.client.ack(stuck)
    assert.equal(p.client.sent.length, 6, 'its late answer frees the place; its outcome stays failed')
    p.client.ackAll()
    const r = await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['failed', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered'],
    )
    assert.deepEqual([r.broken, r.timedOut, r.settled, r.acknowledged], [false, undefined, 6, 6])
  })

  test('a message given up on at its timeout: the later messages of its topic not yet written fail unsent, so none overtakes its retry', async () => {
    const p = pass(publishes(7, { topics: 5 }), 'manual', { publishTimeoutMs: 1000, maxInFlight: 3 })
    const stuck = p.client.sent[0]!
    p.clock.advance(600)
    p.client.ack(p.client.sent[1])
    p.client.ack(p.client.sent[2])
    p.clock.advance(650)
    p.client.ack(stuck)
    p.client.ackAll()
    await p.done
    // m-0 and m-5 on t0: m-5 comes after m-0 failed and is not sent; m-6 (t1) is.
    assert.deepEqual(p.written(), ['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-6'])
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['failed', 'delivered', 'delivered', 'delivered', 'delivered', 'failed', 'delivered'],
    )
    assert.match(
      reasonOf(p.outcomes[5]),
      /^not sent: an earlier message of its topic was not delivered \(no acknowledgement .*\); the batch is retried so that the topic keeps its order$/,
    )
  })

  test('PUBACK 0x97 on m-0: the messages of its topic written after the failure was known are not delivered ahead of its retry', async () => {
    // One topic, 40 QoS 1 messages, a window of 20: m-0 is answered 0x97 (quota exceeded: transient, retried).
    const p = pass(publishes(40))
    p.client.refuse(p.client.sent[0]!, 0x97, 'Publish error: Quota exceeded')
    const knownAt = p.client.sent.length
    while (p.result() === undefined && p.client.unacked.length > 0) {
      p.client.ack()
      await Promise.resolve()
    }
    await p.done
    const kindsAfter = p.outcomes.slice(knownAt).map((o) => o.kind)
    assert.equal(p.outcomes[0]!.kind, 'failed')
    // The retry publishes m-0 again; any later message of its topic delivered now reaches subscribers before it.
    assert.deepEqual(
      kindsAfter.filter((k) => k === 'delivered').length,
      0,
      `m-${knownAt}..m-39 were written after m-0 had failed, and were delivered: ${kindsAfter.join(',')}`,
    )
  })

  test('every place in the window held by a message given up on: nothing can move, the pass ends with the timeout', async () => {
    const p = pass(publishes(5), 'manual', { publishTimeoutMs: 1000, maxInFlight: 2 })
    p.clock.advance(600)
    p.client.ack(p.client.sent[0])
    p.client.ack(p.client.sent[1])
    // m-2 and m-3 go at 600 and are never answered, while m-0 and m-1 were: given up on one by one.
    p.clock.advance(1250)
    const r = await p.done
    assert.equal(r.broken, true)
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'delivered', 'failed', 'failed', 'failed'],
    )
    assert.deepEqual(p.written(), ['m-0', 'm-1', 'm-2', 'm-3'])
  })

  test('a pass that ends owing a message it gave up on is broken: the connection is not used again', async () => {
    const p = pass(publishes(3), 'manual', { publishTimeoutMs: 1000 })
    p.clock.advance(600)
    p.client.ack(p.client.sent[1])
    p.client.ack(p.client.sent[2])
    p.clock.advance(650)
    const r = await p.done
    assert.deepEqual([r.broken, r.timedOut, r.settled], [true, undefined, 3])
    assert.equal(p.outcomes[0]!.kind, 'failed')
  })

  test('the timeout bounds each acknowledgement, not the pass', async () => {
    const p = pass(publishes(5), 'manual', { publishTimeoutMs: 1000, maxInFlight: 1 })
    for (let i = 0; i < 5; i++) {
      p.clock.advance(900)
      p.client.ack()
    }
    const r = await p.done
    assert.equal(r.broken, false)
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
  })

  test('the invocation deadline: outstanding and unsent ones fail with a reason that names it', async () => {
    const p = pass(publishes(30), 'manual', { deadlineIn: 600 })
    for (let i = 0; i < 12; i++) p.client.ack()
    p.clock.advance(500)
    await settle(1)
    assert.equal(p.result(), undefined)
    p.clock.advance(250)
    const r = await p.done
    assert.equal(r.broken, true)
    assert.equal(p.outcomes.filter((o) => o.kind === 'delivered').length, 12)
    assert.equal(p.outcomes.filter((o) => o.kind === 'failed').length, 18)
    assert.match(reasonOf(p.outcomes[29]), /^the invocation deadline \(Function Compute timeout less a safety margin\) was reached/)
  })
})

describe('publish window: rate limit', () => {
  test('at 10 messages/s, publishes go out every 100 ms on the clock, in order', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    const p = pass(publishes(5), 'sync', { clock, bucket: new TokenBucket(10) })
    assert.equal(p.client.sent.length, 1)
    clock.advance(99)
    assert.equal(p.client.sent.length, 1)
    clock.advance(1)
    assert.equal(p.client.sent.length, 2)
    clock.advance(300)
    await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.at - start),
      [0, 100, 200, 300, 400],
    )
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      ['m-0', 'm-1', 'm-2', 'm-3', 'm-4'],
    )
  })

  test('at 2,000 messages/s, 1,000 publishes take half a second of the clock, written in bursts', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    const bucket = new TokenBucket(2000)
    const p = pass(publishes(1000), 'sync', { clock, bucket })
    while (p.result() === undefined && clock.now() - start < 5000) {
      clock.advance(1)
      await settle(1)
    }
    await p.done
    const times = p.client.sent.map((s) => s.at - start)
    assert.equal(times.length, 1000)
    const last = times.at(-1)!
    assert.ok(last >= 450 && last <= 500, `the last publish at ${last} ms of the clock`)
    assert.ok(new Set(times).size <= 1000 / 4, `${new Set(times).size} distinct write times: not bursts`)
  })

  test('the bucket is shared: a second pass on it waits for the next token', async () => {
    const clock = new FakeClock()
    const bucket = new TokenBucket(10)
    await pass(publishes(1), 'sync', { clock, bucket }).done
    const second = pass(publishes(1), 'sync', { clock, bucket })
    assert.equal(second.client.sent.length, 0)
    clock.advance(100)
    await second.done
    assert.equal(second.client.sent.length, 1)
  })
})

describe('publish window: MQTT 5 properties', () => {
  test('on a 3.1.1 connection they are left out and counted', async () => {
    const items = publishes(6, { properties: true }).map((p, i) => (i % 2 ? { ...p, properties: undefined } : p))
    const p = pass(items, 'sync', { v5: false })
    const r = await p.done
    assert.equal(r.dropped, 3)
    assert.ok(p.client.sent.every((s) => s.opts.properties === undefined))
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
  })

  test('on MQTT 5 they are sent as they are', async () => {
    const p = pass(publishes(2, { properties: true }), 'sync', { v5: true })
    const r = await p.done
    assert.equal(r.dropped, 0)
    assert.deepEqual(p.client.sent[1]!.opts, {
      qos: 1,
      retain: false,
      properties: { contentType: 'text/plain', userProperties: { n: '1' } },
    })
  })
})

describe('publish window: QoS 0 is delivered once the broker has read it', () => {
  test('a later acknowledgement confirms the QoS 0 messages written before it; a PINGREQ confirms the last ones', async () => {
    const items = publishes(4).map((p, i) => ({ ...p, qos: (i === 2 ? 1 : 0) as 0 | 1 }))
    const p = pass(items, 'manual')
    p.client.ack(p.client.sent[0])
    p.client.ack(p.client.sent[1])
    p.client.ack(p.client.sent[3])
    await settle(1)
    assert.equal(p.result(), undefined, 'written is not read')
    assert.equal(p.client.pings, 1, 'one PINGREQ behind them')
    p.client.ack(p.client.sent[2])
    await settle(1)
    assert.equal(p.result(), undefined, 'the PUBACK of #2 confirms #0 and #1, not #3, written after it')
    p.client.pong()
    const r = await p.done
    assert.equal(r.broken, false)
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
  })

  test('closed after QoS 0 messages were written but before a confirmation: they are unconfirmed, not delivered', async () => {
    const p = pass(publishes(3, { qos: 0 }), 'manual')
    p.client.ackAll()
    p.client.drop()
    const r = await p.done
    assert.deepEqual([r.unconfirmed, r.unsent, r.settled], [[0, 1, 2], [], 0])
  })

  test('a PINGRESP to a PINGREQ written before the pass confirms nothing of it', async () => {
    const p = pass(publishes(2, { qos: 0 }), 'manual', { pingsInFlight: 1 })
    p.client.ackAll()
    p.client.emit('packetreceive', { cmd: 'pingresp' })
    await settle(1)
    assert.equal(p.result(), undefined)
    assert.equal(p.client.pings, 1, 'its own PINGREQ, once the earlier one was answered')
    p.client.pong()
    assert.equal((await p.done).broken, false)
  })

  test('a paced QoS 0 stream longer than the timeout: confirmed as it goes, a PINGREQ every quarter of the timeout', async () => {
    const clock = new FakeClock()
    const p = pass(publishes(40, { qos: 0 }), 'sync', { clock, bucket: new TokenBucket(10), publishTimeoutMs: 1000 })
    for (let i = 0; i < 40; i++) clock.advance(100)
    const r = await p.done
    assert.equal(r.broken, false)
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
    // 4 s of writing, one every 250 ms (not one per message), and the last after the last message.
    assert.ok(p.client.pings >= 14 && p.client.pings <= 18, `${p.client.pings} PINGREQs`)
  })

  test(`a large window: at most ${MAX_UNWRITTEN_QOS0} QoS 0 messages wait for their write (one 'drain' listener each in MQTT.js)`, async () => {
    const p = pass(publishes(1200, { qos: 0 }), 'manual', { maxInFlight: 5000 })
    assert.equal(p.client.sent.length, MAX_UNWRITTEN_QOS0)
    p.client.ack()
    assert.equal(p.client.sent.length, MAX_UNWRITTEN_QOS0 + 1, 'one written, one more handed over')
    while (p.client.unacked.length > 0) p.client.ackAll()
    p.client.pong()
    await p.done
    assert.equal(p.client.sent.length, 1200)
  })

  test('an unpaced QoS 0 burst: one PINGREQ, after the last message', async () => {
    const p = pass(publishes(500, { qos: 0 }), 'async')
    await p.done
    assert.equal(p.client.pings, 1)
  })
})

describe('publish window: the connection lost', () => {
  test('an MQTT.js error ends the pass at once, with the error as the loss', async () => {
    const p = pass(publishes(5), 'manual')
    p.client.ack()
    p.client.fail('Invalid puback reason code')
    const r = await p.done
    assert.deepEqual(r.loss, { kind: 'error', message: 'Invalid puback reason code' })
    assert.deepEqual([r.unconfirmed, r.settled, r.broken], [[1, 2, 3, 4], 1, true])
  })

  test('a socket error is the broker closing the connection', async () => {
    const p = pass(publishes(2), 'manual')
    p.client.fail('read ECONNRESET', 'ECONNRESET')
    assert.deepEqual((await p.done).loss, { kind: 'closed', socketError: 'ECONNRESET' })
  })

  test('an MQTT 5 DISCONNECT before the close: the loss carries its reason code and reason string', async () => {
    const p = pass(publishes(2), 'manual')
    p.client.emit('disconnect', { cmd: 'disconnect', reasonCode: 0x81, properties: { reasonString: 'bad string' } })
    p.client.drop()
    assert.deepEqual((await p.done).loss, { kind: 'closed', disconnect: { code: 0x81, reasonString: 'bad string' } })
  })
})

describe('publish window: packet limit, Maximum QoS, Retain Available and QoS 2 downgrades', () => {
  test('a PUBLISH over the limit is refused unwritten, naming its size, the limit and its source; the rest go out in order', async () => {
    const items = publishes(3).map((p, i) => (i === 1 ? { ...p, payload: Buffer.alloc(100, 0x61) } : p))
    const p = pass(items, 'sync', { packetLimit: { bytes: 100, source: 'MQTT_MAX_PACKET_SIZE=100' } })
    const r = await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      ['m-0', 'm-2'],
    )
    assert.deepEqual(p.outcomes[1], {
      kind: 'refused',
      reason: `its PUBLISH packet would be 119 bytes; the MQTT broker at ${URL} takes at most 100 (MQTT_MAX_PACKET_SIZE=100)`,
    })
    assert.equal(r.settled, 3)
  })

  test("a PUBLISH above the CONNACK's Maximum QoS is refused unwritten, naming its QoS and the broker's maximum; the rest go out in order", async () => {
    const items = publishes(4).map((p, i) => (i % 2 ? { ...p, qos: 2 as const } : p))
    const p = pass(items, 'sync', { maxQos: 1 })
    const r = await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      ['m-0', 'm-2'],
    )
    for (const i of [1, 3])
      assert.deepEqual(p.outcomes[i], {
        kind: 'refused',
        reason: `it is published at QoS 2 (its rule's or its qoslevel's); the MQTT broker at ${URL} takes at most QoS 1 (the Maximum QoS in its CONNACK)`,
      })
    assert.deepEqual([r.settled, r.broken], [4, false])
  })

  test('a retained PUBLISH to a broker whose CONNACK says Retain Available 0 is refused unwritten; the rest go out', async () => {
    const items = publishes(3).map((p, i) => (i === 1 ? { ...p, retain: true } : p))
    const p = pass(items, 'sync', { retainAvailable: false })
    await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.payload),
      ['m-0', 'm-2'],
    )
    assert.deepEqual(p.outcomes[1], {
      kind: 'refused',
      reason: `it is retained; the MQTT broker at ${URL} does not take retained messages (Retain Available is 0 in its CONNACK)`,
    })
  })

  test('on 3.1.1 the dropped MQTT 5 properties do not count toward the size', async () => {
    const big = { ...publishes(1, { properties: true })[0]!, properties: { contentType: 'x'.repeat(200) } }
    const limit = { packetLimit: { bytes: 100, source: 'test' } }
    assert.equal((await pass([big], 'sync', { ...limit, v5: true }).done).settled, 1)
    const v4 = pass([big], 'sync', { ...limit, v5: false })
    await v4.done
    assert.equal(v4.outcomes[0]!.kind, 'delivered')
  })

  test('QoS 2 publishes answered with PUBACK (a broker without QoS 2) are counted', async () => {
    const p = pass(publishes(4, { qos: 2 }), 'manual')
    p.client.qos2AsPuback = true
    p.client.ack()
    p.client.ack()
    p.client.qos2AsPuback = false
    p.client.ackAll()
    assert.equal((await p.done).downgraded, 2)
  })
})

describe('publish window: one socket write per read', () => {
  test("what one read's acknowledgements let out goes in one write, at the loop's next turn", async () => {
    const p = pass(publishes(40, { qos: 1 }), 'manual', { maxInFlight: 10 })
    assert.equal(p.client.socketWrites, 1, 'the first window in one write, before anything was read')
    // Six PUBACKs in one read: MQTT.js handles them one per tick; the socket stays corked until the check phase.
    for (let i = 0; i < 6; i++) p.client.ack()
    assert.equal(p.client.sent.length, 16, 'six more handed to MQTT.js at once')
    assert.equal(p.client.socketWrites, 1, 'none written yet: corked')
    p.clock.advance(0)
    assert.equal(p.client.socketWrites, 2, 'the six in one write')
    assert.equal(p.client.stream.corked, 0)
    ackOneByOne(p.client, 10)
    const r = await p.done
    assert.equal(r.settled, 40)
    assert.equal(p.client.stream.corked, 0, 'the pass ends with the socket uncorked')
  })

  test('QoS 0 messages and the PINGREQ that confirms them leave in one socket write', async () => {
    const p = pass(publishes(3, { qos: 0 }), 'sync')
    const r = await p.done
    assert.equal(r.settled, 3)
    assert.equal(p.client.pings, 1)
    assert.equal(p.client.socketWrites, 1)
  })

  test('the last acknowledgement ends the pass: the socket is uncorked then, not left to the next turn', async () => {
    const p = pass(publishes(3, { qos: 1 }), 'manual')
    p.client.ack()
    p.client.ack()
    p.client.ack()
    await p.done
    assert.equal(p.client.stream.corked, 0)
  })
})
