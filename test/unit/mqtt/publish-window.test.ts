import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Publish } from '../../../shared/mapping/publish.js'
import { DELIVERED, type PublishOutcome } from '../../../shared/mqtt/outcome.js'
import { type PassResult, transmit, type WindowOptions } from '../../../shared/mqtt/publish-window.js'
import { TokenBucket } from '../../../shared/mqtt/token-bucket.js'
import { type AckMode, FakeClient, FakeClock, publishes, reasonOf, settle } from './fakes.js'

const URL = 'mqtt://broker.test:1883'

interface Pass {
  clock: FakeClock
  client: FakeClient
  outcomes: PublishOutcome[]
  /** Set once the pass has resolved. */
  result: () => PassResult | undefined
  done: Promise<PassResult>
}

/** One pass over `items` (or the given indices) on a connected fake client. */
function pass(
  items: Publish[],
  ackMode: AckMode,
  over: Partial<WindowOptions> & { deadlineIn?: number; indices?: number[]; clock?: FakeClock } = {},
): Pass {
  const { deadlineIn = 60_000, indices = items.map((_, i) => i), clock = new FakeClock(), ...options } = over
  const client = new FakeClient({}, clock, ackMode)
  client.connected = true
  const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
  let result: PassResult | undefined
  const done = transmit(client, items, indices, outcomes, clock.now() + deadlineIn, {
    clock,
    maxInFlight: 20,
    v5: true,
    publishTimeoutMs: 10_000,
    safeUrl: URL,
    ...options,
  })
  done.then((r) => {
    result = r
  })
  return { clock, client, outcomes, result: () => result, done }
}

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
    assert.deepEqual(r, { lost: [], dropped: 0, broken: false })
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

  test('a connection that closes mid-pass: the unacknowledged are lost (for the caller to resend), in order', async () => {
    const p = pass(publishes(10), 'manual')
    for (let i = 0; i < 7; i++) p.client.ack()
    p.client.drop()
    const r = await p.done
    assert.deepEqual(r, { lost: [7, 8, 9], dropped: 0, broken: true })
    assert.equal(p.client.listenerCount('close'), 0)
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
    assert.deepEqual(r.lost, [])
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
