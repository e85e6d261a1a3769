// The network between the bridge and the broker, on one Mosquitto with its network defaults (Nagle on) and
// a receive maximum of 200 (max_inflight_messages 200): the delayed-ACK stall and the PINGREQ that releases
// it; a window of 200 that follows the broker, 2,000 mixed-QoS messages through it on both protocol
// versions; and a full window across a 20 ms round trip (the latency proxy). Speed is the benchmark's
// business (docs/performance.md: the delayed-ACK pairs, the round-trip rows); what is asserted here is the
// mechanism, from the packets the bridge's MQTT.js clients read and write, turn by turn of the event loop.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connect, type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import type { Publish, QoS } from '../../shared/mapping/publish.js'
import { MqttPool } from '../../shared/mqtt/pool.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { type LatencyProxy, startLatencyProxy } from '../helpers/latency-proxy.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'
import { TestLog } from '../unit/mqtt/fakes.js'

/**
 * What the bridge's MQTT.js clients wrote and read: the most acknowledgements owed at once, identifiers reused
 * while in flight, and the packets in order, in turns of the event loop (MQTT.js handles the packets of one
 * read before the next check phase, where a turn ends): `|` a turn begins, `A<n>` an acknowledgement arrives
 * and n are still owed, `R` another packet arrives, `P` a PUBLISH and `Q` a PINGREQ are written.
 */
interface Wire {
  maxOwed: number
  reusedIds: number
  pingreqs: number
  acks: number
  events: string[]
  /** At the end of each turn: acknowledgements owed, and PUBLISH packets written so far. */
  turns: Array<{ owed: number; published: number }>
}

const wireOf = (): Wire => ({ maxOwed: 0, reusedIds: 0, pingreqs: 0, acks: 0, events: [], turns: [] })

/** MQTT.js's connect, watching each client's packets. */
function watched(wire: Wire): (url: string, opts: IClientOptions) => MqttClient {
  return (url, opts) => {
    const client = connect(url, opts)
    const owed = new Set<number>()
    let published = 0
    let turn = false
    // Registered before the window's own listeners: this turn's end runs before the nudge's setImmediate.
    const endTurn = () => {
      turn = false
      wire.turns.push({ owed: owed.size, published })
    }
    client.on('packetsend', (p: Packet) => {
      if (p.cmd === 'pingreq') {
        wire.pingreqs++
        wire.events.push('Q')
      }
      if (p.cmd !== 'publish') return
      published++
      wire.events.push('P')
      if (!p.qos) return
      if (owed.has(p.messageId!)) wire.reusedIds++
      owed.add(p.messageId!)
      wire.maxOwed = Math.max(wire.maxOwed, owed.size)
    })
    client.on('packetreceive', (p: Packet) => {
      if (!turn) {
        turn = true
        wire.events.push('|')
        setImmediate(endTurn)
      }
      if (p.cmd === 'puback' || p.cmd === 'pubcomp' || (p.cmd === 'pubrec' && (p.reasonCode ?? 0) >= 0x80)) {
        wire.acks++
        owed.delete(p.messageId!)
        wire.events.push(`A${owed.size}`)
      } else wire.events.push('R')
    })
    return client
  }
}

/**
 * Acknowledgements after which the broker still owed some and the bridge wrote nothing before the broker's
 * next read: each would wait for the client's delayed ACK (about 40 ms) on a Nagle-on broker.
 */
function unanswered(events: string[]): number {
  let count = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (!e.startsWith('A') || e === 'A0') continue
    let j = i + 1
    while (j < events.length && events[j] !== '|' && events[j] !== 'P' && events[j] !== 'Q') j++
    if (j < events.length && events[j] === '|') count++
  }
  return count
}

function pool(url: string, protocol: 4 | 5, over: { maxInFlight?: number; wire?: Wire } = {}): MqttPool {
  return new MqttPool({
    url,
    protocol,
    auth: { kind: 'none' },
    clientIdPrefix: 'GID_network',
    size: 1,
    publishTimeoutMs: 10_000,
    ...(over.maxInFlight !== undefined ? { maxInFlight: over.maxInFlight } : {}),
    ...(over.wire ? { connect: watched(over.wire) } : {}),
  })
}

let batches = 0
function batch(count: number, qos: (i: number) => QoS, topics = 16): Publish[] {
  const tag = `n${batches++}`
  return Array.from({ length: count }, (_, i) => ({
    ruleId: 'network',
    index: i,
    topic: `net/${tag}/t${i % topics}`,
    qos: qos(i),
    retain: false,
    payload: Buffer.from(`${tag}:${i}:${'x'.repeat(200)}`),
  }))
}

describe('the network between bridge and broker', needsMosquitto(), () => {
  let broker: Broker
  let sub: Subscriber
  before(async () => {
    broker = await startMosquitto({ limits: { maxInflightMessages: 200 } })
    sub = await subscribe(broker.url, ['net/#'], 5)
  })
  after(async () => {
    await sub?.close()
    await broker?.stop()
  })

  for (const protocol of [5, 4] as const) {
    test(`MQTT ${protocol === 5 ? '5' : '3.1.1'}: no acknowledgement is left to the delayed ACK: the bridge writes after each one while others are owed, a few PINGREQs per batch`, async () => {
      const wire = wireOf()
      const p = pool(broker.url, protocol, { wire })
      const log = new TestLog()
      try {
        await p.publish(
          batch(100, () => 1),
          Date.now() + 30_000,
          log,
        )
        const pingsBefore = wire.pingreqs
        wire.events.length = 0
        for (let b = 0; b < 10; b++) {
          const r = await p.publish(
            batch(100, () => 1),
            Date.now() + 30_000,
            log,
          )
          assert.ok(r.outcomes.every((o) => o.kind === 'delivered'))
        }
        const acks = wire.events.filter((e) => e.startsWith('A')).length
        assert.equal(acks, 1000)
        assert.equal(unanswered(wire.events), 0, 'an acknowledgement with others owed, and nothing written before the next read')
        const perBatch = (wire.pingreqs - pingsBefore) / 10
        assert.ok(perBatch >= 1, 'the PINGREQs that release the acknowledgements were written')
        assert.ok(perBatch <= 3 * 100, `at most 3 PINGREQs per acknowledgement: ${perBatch} per batch of 100`)
        assert.equal(wire.maxOwed, 20, 'the default window: MQTT_MAX_IN_FLIGHT caps the broker’s 200')
      } finally {
        await p.close()
      }
    })
  }

  for (const protocol of [5, 4] as const) {
    test(`MQTT ${protocol === 5 ? '5' : '3.1.1'}: 2,000 mixed-QoS messages through a window of 200 all arrive, in order per topic and QoS, no identifier reused in flight`, async () => {
      const wire = wireOf()
      // On MQTT 5 the window is the broker's receive maximum (200) under a higher cap; on 3.1.1 it is MQTT_MAX_IN_FLIGHT.
      const p = pool(broker.url, protocol, { maxInFlight: protocol === 5 ? 1000 : 200, wire })
      const log = new TestLog()
      try {
        const items = batch(2000, (i) => (i % 3) as QoS, 20)
        const tag = items[0]!.topic.split('/')[1]!
        const r = await p.publish(items, Date.now() + 60_000, log)
        assert.deepEqual(
          r.outcomes.filter((o) => o.kind !== 'delivered'),
          [],
        )
        assert.equal(log.events('mqtt.connected')[0]!['window'], 200)
        assert.ok(wire.maxOwed > 20 && wire.maxOwed <= 200, `${wire.maxOwed} acknowledgements owed at most`)
        assert.equal(wire.reusedIds, 0)
        const got = await sub.waitUntil((m) => m.filter((x) => x.topic.includes(`/${tag}/`)).length >= 2000, 30_000, 'all 2,000')
        const mine = got.filter((x) => x.topic.includes(`/${tag}/`))
        assert.equal(mine.length, 2000)
        const lanes = new Map<string, number[]>()
        for (const m of mine) {
          const seq = Number(m.payload.toString().split(':')[1])
          const lane = `${m.topic} ${items[seq]!.qos}`
          lanes.set(lane, [...(lanes.get(lane) ?? []), seq])
        }
        for (const [lane, seqs] of lanes)
          assert.deepEqual(
            seqs,
            [...seqs].sort((a, b) => a - b),
            lane,
          )
      } finally {
        await p.close()
      }
    })
  }

  describe('across a 20 ms round trip (the latency proxy)', () => {
    let proxy: LatencyProxy
    before(async () => {
      proxy = await startLatencyProxy({ host: '127.0.0.1', port: broker.port }, { rttMs: 20 })
    })
    after(() => proxy?.close())

    test('the window stays full: each acknowledgement lets the next PUBLISH out in the same turn, so 20 are owed at every turn until all are written', async () => {
      const wire = wireOf()
      const p = pool(proxy.url, 5, { wire })
      const log = new TestLog()
      try {
        await p.publish(
          batch(20, () => 1),
          Date.now() + 30_000,
          log,
        )
        wire.turns.length = 0
        const r = await p.publish(
          batch(200, () => 1),
          Date.now() + 30_000,
          log,
        )
        assert.ok(r.outcomes.every((o) => o.kind === 'delivered'))
        assert.equal(wire.maxOwed, 20)
        const writing = wire.turns.filter((t) => t.published > 20 && t.published < 220)
        assert.ok(writing.length >= 9, `${writing.length} turns while messages were left to write: 200 at 20 a round trip take at least 10`)
        assert.deepEqual(
          writing.filter((t) => t.owed !== 20),
          [],
          'a turn that ended with the window not full while messages were left to write',
        )
      } finally {
        await p.close()
      }
    })
  })
})
