// Ordered delivery per message group, in the publish window on a fake client and clock: one message in
// flight per group, groups that never hold each other up (on a shared topic or not), and the short-circuit
// after a group's first failure.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Publish } from '../../../shared/mapping/publish.js'
import type { BrokenGroups } from '../../../shared/mqtt/group-order.js'
import { publishes, reasonOf, windowPass } from './fakes.js'

interface Spec {
  group?: string
  topic?: string
  qos?: 0 | 1 | 2
}

/** One pass over messages named by their group (and topic), on a fake client that answers by hand; `big` is over the packet limit. */
function pass(specs: Spec[], broken: BrokenGroups = new Map(), maxInFlight = 20, big?: number) {
  const items: Publish[] = publishes(specs.length).map((p, i) => ({
    ...p,
    topic: specs[i]!.topic ?? `devices/${specs[i]!.group ?? 'none'}`,
    qos: specs[i]!.qos ?? 1,
    payload: i === big ? Buffer.alloc(500, 0x61) : Buffer.from(`${specs[i]!.group ?? '-'}${i}`),
  }))
  const p = windowPass(items, 'manual', {
    maxInFlight,
    ...(big === undefined ? {} : { packetLimit: { bytes: 200, source: 'the test' } }),
    groups: { of: specs.map((s) => s.group), broken },
  })
  /** Acknowledges the unacknowledged message with this payload. */
  const ack = (payload: string, code?: number) => {
    const s = p.client.unacked.find((u) => u.payload === payload)
    assert.ok(s, `${payload} is not in flight (in flight: ${p.client.unacked.map((u) => u.payload).join(' ')})`)
    if (code === undefined) p.client.ack(s)
    else p.client.refuse(s, code, code === 0x97 ? 'Quota exceeded' : 'Not authorized')
  }
  return { ...p, ack }
}

const A = { group: 'A' }
const B = { group: 'B' }

describe('ordered delivery: one message in flight per group', () => {
  test('a group waits for its acknowledgement; other groups go past it; each group in batch order', async () => {
    const p = pass([A, A, B, A, B])
    assert.deepEqual(p.written(), ['A0', 'B2'])
    p.ack('B2')
    assert.deepEqual(p.written(), ['A0', 'B2', 'B4'])
    p.ack('A0')
    assert.deepEqual(p.written(), ['A0', 'B2', 'B4', 'A1'])
    p.ack('A1')
    p.ack('B4')
    assert.deepEqual(p.written(), ['A0', 'B2', 'B4', 'A1', 'A3'])
    p.ack('A3')
    const r = await p.done
    assert.equal(r.broken, false)
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
  })

  test('messages without a group behave as today: the whole window at once, in batch order', async () => {
    const p = pass(
      Array.from({ length: 30 }, (_, i) => (i === 0 ? A : {})),
      new Map(),
      20,
    )
    assert.equal(p.written().length, 20)
    p.client.ackAll()
    p.client.ackAll()
    await p.done
    assert.equal(p.client.sent.length, 30)
  })

  for (const shared of [true, false]) {
    test(`groups ${shared ? 'on one shared topic' : 'each on its own topic'}: a group that waits never holds another up; each group in order`, async () => {
      const topic = (g: string) => (shared ? 'devices/shared' : `devices/${g}`)
      const p = pass(['A', 'A', 'B', 'B', 'C', 'A'].map((group) => ({ group, topic: topic(group) })))
      assert.deepEqual(p.written(), ['A0', 'B2', 'C4'])
      p.ack('B2')
      p.ack('C4')
      assert.deepEqual(p.written(), ['A0', 'B2', 'C4', 'B3'], 'B goes on while A0 waits')
      p.ack('B3')
      p.ack('A0')
      p.ack('A1')
      p.ack('A5')
      await p.done
      assert.deepEqual(p.written(), ['A0', 'B2', 'C4', 'B3', 'A1', 'A5'])
      assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
    })
  }

  test('the order per topic gives way for grouped messages: a message without a group goes past a waiting group on its topic', async () => {
    const t = 'devices/shared'
    const p = pass([{ group: 'A', topic: t }, { group: 'A', topic: t }, { topic: t }, { topic: 'devices/other' }])
    assert.deepEqual(p.written(), ['A0', '-2', '-3'], 'A1 waits for A0; the ungrouped message on its topic does not wait for A1')
    p.ack('A0')
    assert.deepEqual(p.written(), ['A0', '-2', '-3', 'A1'])
    p.client.ackAll()
    await p.done
  })

  test('a message of a group on a shared topic never acknowledged: it fails at the timeout with the rest of its group; the other groups were delivered meanwhile', async () => {
    const t = 'devices/shared'
    const specs = Array.from({ length: 12 }, (_, i) => ({ group: 'ABC'[i % 3]!, topic: t }))
    const p = windowPass(
      publishes(12).map((m, i) => ({ ...m, topic: t, payload: Buffer.from(`${specs[i]!.group}${i}`) })),
      'manual',
      { publishTimeoutMs: 1000, groups: { of: specs.map((s) => s.group), broken: new Map() } },
    )
    // The broker answers everything but A0, as it arrives.
    for (let round = 0; round < 5; round++) {
      p.clock.advance(100)
      for (const s of p.client.unacked) if (s.payload !== 'A0') p.client.ack(s)
    }
    assert.deepEqual(
      p.written().filter((w) => w.startsWith('A')),
      ['A0'],
      'A waits for A0',
    )
    assert.equal(p.written().length, 9, 'B and C all written and answered')
    p.clock.advance(1000)
    const r = await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      specs.map((s) => (s.group === 'A' ? 'failed' : 'delivered')),
    )
    assert.match(
      reasonOf(p.outcomes[3]),
      /^not sent: an earlier message of its message group was not delivered \(no acknowledgement from the MQTT broker/,
    )
    assert.equal(r.timedOut, undefined, 'not the whole pass: the broker answered the others')
  })

  test('a waiting message refused unwritten (over the packet limit) lets the next of its group go', async () => {
    // A2 on a topic of its own: only its group holds it, so only the group's release can free it.
    const p = pass([A, A, { group: 'A', topic: 'devices/other' }], new Map(), 20, 1)
    p.ack('A0')
    assert.deepEqual(p.written(), ['A0', 'A2'], 'A1 is never written; A2 follows A0')
    p.ack('A2')
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'refused', 'delivered'],
    )
  })

  test('a QoS 0 message holds its group only until it is written: the connection keeps the order', async () => {
    const p = pass([
      { group: 'A', qos: 0 },
      { group: 'A', qos: 1 },
    ])
    assert.deepEqual(p.written(), ['A0'])
    p.client.ack(p.client.sent[0])
    assert.deepEqual(p.written(), ['A0', 'A1'])
    p.client.ackAll()
    await p.done
  })
})

describe('ordered delivery: the short-circuit after a failure', () => {
  test("after a group's first transient failure the rest of the group is not sent and fails; other groups go on", async () => {
    const broken: BrokenGroups = new Map()
    const p = pass([A, B, A, B, A], broken)
    p.ack('A0')
    p.ack('A2', 0x97)
    p.ack('B1')
    p.ack('B3')
    const r = await p.done
    assert.deepEqual(p.written(), ['A0', 'B1', 'A2', 'B3'], 'A4 was never written')
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'delivered', 'failed', 'delivered', 'failed'],
    )
    assert.match(reasonOf(p.outcomes[2]), /Quota exceeded \(reason code 0x97\)$/)
    assert.equal(
      reasonOf(p.outcomes[4]),
      'not sent: an earlier message of its message group was not delivered (the MQTT broker at mqtt://broker.test:1883 rejected the publish: Quota exceeded (reason code 0x97)); the batch is retried so that the group keeps its order',
    )
    assert.equal(r.settled, 5)
    assert.deepEqual([...broken.keys()], ['A'])
  })

  test('a group broken in an earlier pass of the invocation stays broken: its messages are not written', async () => {
    const broken: BrokenGroups = new Map([['A', 'not sent: earlier failure']])
    const p = pass([A, B, A], broken)
    assert.deepEqual(p.written(), ['B1'])
    p.ack('B1')
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['failed', 'delivered', 'failed'],
    )
    assert.equal(reasonOf(p.outcomes[2]), 'not sent: earlier failure')
  })

  test('a refusal (a dead letter) does not break the group: a retry could never deliver it', async () => {
    const p = pass([A, A, A])
    p.ack('A0')
    p.ack('A1', 0x87)
    p.ack('A2')
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'refused', 'delivered'],
    )
  })

  test('a group broken on a shared topic: the other groups were never behind it, and go on', async () => {
    const t = 'devices/shared'
    const p = pass([
      { group: 'A', topic: t },
      { group: 'A', topic: t },
      { group: 'B', topic: t },
    ])
    assert.deepEqual(p.written(), ['A0', 'B2'])
    p.ack('A0', 0x97)
    p.ack('B2')
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['failed', 'failed', 'delivered'],
    )
  })

  test('a lost connection: what waited for its group is reported unsent, in order, for the resend', async () => {
    const p = pass([A, A, B, A])
    p.client.drop()
    const r = await p.done
    assert.deepEqual(
      [r.unconfirmed, r.unsent],
      [
        [0, 2],
        [1, 3],
      ],
    )
  })
})
