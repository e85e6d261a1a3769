// When a QoS 0 message counts as delivered: only once the broker has shown it read it, by acknowledging a
// PUBLISH written after it or answering a PINGREQ written after it. After the write order, not the positions:
// an ordered rule writes a waiting message after later positions, and a message refused unwritten takes a
// position but writes nothing (shared/mqtt/confirmations.ts).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Publish } from '../../../shared/mapping/publish.js'
import { QoS0Confirmations } from '../../../shared/mqtt/confirmations.js'
import { publishes, settle, windowPass } from './fakes.js'

interface Spec {
  topic: string
  qos: 0 | 1
  group?: string
  /** Over the packet limit: refused unwritten. */
  big?: boolean
}

function pass(specs: Spec[], mode: 'manual' | 'async' = 'manual') {
  const items: Publish[] = publishes(specs.length).map((p, i) => ({
    ...p,
    topic: specs[i]!.topic,
    qos: specs[i]!.qos,
    payload: specs[i]!.big ? Buffer.alloc(500, 0x61) : Buffer.from(`p${i}`),
  }))
  const grouped = specs.some((s) => s.group !== undefined)
  return windowPass(items, mode, {
    ...(specs.some((s) => s.big) ? { packetLimit: { bytes: 200, source: 'the test' } } : {}),
    ...(grouped ? { groups: { of: specs.map((s) => s.group), broken: new Map() } } : {}),
  })
}

describe('QoS 0 confirmations', () => {
  test('positions confirmed by write number, whatever their positions', () => {
    const settled: number[] = []
    const c = new QoS0Confirmations(0, (k) => settled.push(k))
    c.wrote(5, 0)
    c.wrote(1, 2)
    c.acknowledged(1)
    assert.deepEqual(settled, [5], 'the PUBLISH numbered 1 was written after position 5 (number 0), before position 1 (number 2)')
    c.pinged(3)
    c.pingAnswered()
    assert.deepEqual(settled, [5, 1])
    c.wrote(7, 2)
    assert.deepEqual(settled, [5, 1, 7], 'written below what is already known read: confirmed at once')
    assert.equal(c.waiting, false)
  })

  test('ordered rule: a PUBACK for a message written before a QoS 0 message does not confirm it', async () => {
    // p1 (group A, QoS 0) waits for p0; p2 on another topic goes first: written p0, p2, then p1.
    const p = pass([
      { group: 'A', topic: 'a', qos: 1 },
      { group: 'A', topic: 'a', qos: 0 },
      { topic: 'b', qos: 1 },
    ])
    assert.deepEqual(p.written(), ['p0', 'p2'])
    p.client.ack(p.find('p0'))
    assert.deepEqual(p.written(), ['p0', 'p2', 'p1'])
    p.client.ack(p.find('p1')) // p1 written to the socket
    p.client.ack(p.find('p2')) // p2's PUBACK: the broker answered before it read p1
    await settle()
    p.client.drop()
    const r = await p.done
    assert.ok(r.unconfirmed.includes(1), `p1 was reported delivered with no sign the broker read it: ${JSON.stringify(r)}`)
  })

  test('ordered rule: a PINGRESP to a PINGREQ written before a QoS 0 message does not confirm it', async () => {
    const p = pass([
      { topic: 'x', qos: 0 },
      { group: 'A', topic: 'a', qos: 1 },
      { group: 'A', topic: 'a', qos: 0 },
      { topic: 'b', qos: 1 },
    ])
    assert.deepEqual(p.written(), ['p0', 'p1', 'p3'])
    p.client.ack(p.find('p0')) // written; nothing left to write: a PINGREQ
    assert.equal(p.client.pings, 1)
    p.client.ack(p.find('p1')) // p2 (QoS 0) goes now, after that PINGREQ
    assert.deepEqual(p.written(), ['p0', 'p1', 'p3', 'p2'])
    p.client.ack(p.find('p2'))
    p.client.pong() // answers the PINGREQ written before p2
    await settle()
    p.client.drop()
    const r = await p.done
    assert.ok(r.unconfirmed.includes(2), `p2 was reported delivered on the PINGRESP to an earlier PINGREQ: ${JSON.stringify(r)}`)
  })

  test('a QoS 0 message after one refused unwritten is confirmed by one PINGREQ, not retried as lost', async () => {
    const p = pass(
      [
        { topic: 'a', qos: 0, big: true },
        { topic: 'a', qos: 0 },
      ],
      'async',
    )
    for (let t = 0; t < 11_000 && !p.result(); t += 50) {
      p.clock.advance(50)
      await settle(20)
    }
    const r = p.result()
    assert.ok(r, 'the pass ended')
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['refused', 'delivered'],
    )
    assert.ok(p.client.pings <= 2, `${p.client.pings} PINGREQs for one QoS 0 message`)
  })
})
