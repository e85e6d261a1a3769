// The network between the bridge and the broker, on one Mosquitto with its network defaults (Nagle on) and
// a receive maximum of 200 (max_inflight_messages 200): the delayed-ACK stall and the PINGREQ that releases
// it; a window of 200 that follows the broker, 2,000 mixed-QoS messages through it on both protocol
// versions; and a full window across a 20 ms round trip (the latency proxy). Speed is the benchmark's
// business (docs/performance.md); what is asserted here is the mechanism. The one time figure is the
// delayed-ACK timer itself, about 40 ms, which load can only lengthen: a stall shows as that much more
// per batch than the same batches take, interleaved, on a broker with set_tcp_nodelay true, whatever the
// machine's load adds to both.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { connect, connectAsync, type IClientOptions, type MqttClient, type Packet } from 'mqtt'
import type { Publish, QoS } from '../../shared/mapping/publish.js'
import { MqttPool } from '../../shared/mqtt/pool.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { type LatencyProxy, startLatencyProxy } from '../helpers/latency-proxy.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'
import { TestLog } from '../unit/mqtt/fakes.js'

/** What the bridge's MQTT.js clients wrote and read: the most acknowledgements owed at once, and identifiers reused while in flight. */
interface Wire {
  maxOwed: number
  reusedIds: number
  pingreqs: number
  acks: number
}

/** MQTT.js's connect, watching each client's packets. */
function watched(wire: Wire): (url: string, opts: IClientOptions) => MqttClient {
  return (url, opts) => {
    const client = connect(url, opts)
    const owed = new Set<number>()
    client.on('packetsend', (p: Packet) => {
      if (p.cmd === 'pingreq') wire.pingreqs++
      if (p.cmd !== 'publish' || !p.qos) return
      if (owed.has(p.messageId!)) wire.reusedIds++
      owed.add(p.messageId!)
      wire.maxOwed = Math.max(wire.maxOwed, owed.size)
    })
    client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback' || p.cmd === 'pubcomp' || (p.cmd === 'pubrec' && (p.reasonCode ?? 0) >= 0x80)) {
        wire.acks++
        owed.delete(p.messageId!)
      }
    })
    return client
  }
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

describe('the network between bridge and broker', needsMosquitto(), () => {
  let broker: Broker
  let noDelay: Broker
  let sub: Subscriber
  before(async () => {
    broker = await startMosquitto({ limits: { maxInflightMessages: 200 } })
    noDelay = await startMosquitto({ limits: { maxInflightMessages: 200 }, config: ['set_tcp_nodelay true'] })
    sub = await subscribe(broker.url, ['net/#'], 5)
  })
  after(async () => {
    await sub?.close()
    await broker?.stop()
    await noDelay?.stop()
  })

  test('the broker leaves Nagle on: a plain MQTT.js client with 20 in flight waits for the delayed ACK (the control)', async () => {
    const client = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 })
    const times: number[] = []
    try {
      for (let b = 0; b < 5; b++) {
        const items = batch(100, () => 1)
        const t = performance.now()
        let next = 0
        const worker = async () => {
          while (next < items.length) {
            const p = items[next++]!
            await client.publishAsync(p.topic, p.payload, { qos: 1 })
          }
        }
        await Promise.all(Array.from({ length: 20 }, worker))
        times.push(performance.now() - t)
      }
    } finally {
      await client.endAsync()
    }
    assert.ok(median(times) >= 35, `median ${median(times).toFixed(1)} ms: this broker does not stall, so the next test proves nothing`)
  })

  for (const protocol of [5, 4] as const) {
    test(`MQTT ${protocol === 5 ? '5' : '3.1.1'}: a QoS 1 batch of 100 does not wait for the delayed ACK; a few PINGREQs per batch release it`, async () => {
      const wire: Wire = { maxOwed: 0, reusedIds: 0, pingreqs: 0, acks: 0 }
      const p = pool(broker.url, protocol, { wire })
      const reference = pool(noDelay.url, protocol)
      const log = new TestLog()
      const times: number[] = []
      const referenceTimes: number[] = []
      const timed = async (on: MqttPool, into: number[]) => {
        const t = performance.now()
        const r = await on.publish(
          batch(100, () => 1),
          Date.now() + 30_000,
          log,
        )
        into.push(performance.now() - t)
        assert.ok(r.outcomes.every((o) => o.kind === 'delivered'))
      }
      try {
        await timed(p, [])
        await timed(reference, [])
        const pingsBefore = wire.pingreqs
        for (let b = 0; b < 9; b++) {
          await timed(p, times)
          await timed(reference, referenceTimes)
        }
        const perBatch = (wire.pingreqs - pingsBefore) / 9
        const [nagle, plain] = [median(times), median(referenceTimes)]
        assert.ok(
          nagle - plain < 20,
          `median ${nagle.toFixed(1)} ms per batch against ${plain.toFixed(1)} ms on the no-delay broker: the delayed ACK (about 40 ms) was waited for`,
        )
        assert.ok(perBatch >= 1, 'the PINGREQs that release the acknowledgements were written')
        assert.ok(perBatch <= 3 * 100, `at most 3 PINGREQs per acknowledgement: ${perBatch} per batch of 100`)
        assert.equal(wire.maxOwed, 20, 'the default window: MQTT_MAX_IN_FLIGHT caps the broker’s 200')
      } finally {
        await p.close()
        await reference.close()
      }
    })
  }

  for (const protocol of [5, 4] as const) {
    test(`MQTT ${protocol === 5 ? '5' : '3.1.1'}: 2,000 mixed-QoS messages through a window of 200 all arrive, in order per topic and QoS, no identifier reused in flight`, async () => {
      const wire: Wire = { maxOwed: 0, reusedIds: 0, pingreqs: 0, acks: 0 }
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

    test('the window stays full: 200 QoS 1 messages take about 10 round trips of 20 in flight, not one stall per window', async () => {
      const wire: Wire = { maxOwed: 0, reusedIds: 0, pingreqs: 0, acks: 0 }
      const p = pool(proxy.url, 5, { wire })
      const log = new TestLog()
      try {
        await p.publish(
          batch(20, () => 1),
          Date.now() + 30_000,
          log,
        )
        const t = performance.now()
        const r = await p.publish(
          batch(200, () => 1),
          Date.now() + 30_000,
          log,
        )
        const ms = performance.now() - t
        assert.ok(r.outcomes.every((o) => o.kind === 'delivered'))
        assert.equal(wire.maxOwed, 20)
        assert.ok(ms >= 10 * 20 - 5, `${ms.toFixed(0)} ms: 200 messages, 20 a round trip, cannot take less than 10 round trips`)
        assert.ok(ms < 20 * 20, `${ms.toFixed(0)} ms: more than 20 round trips of 20 ms`)
      } finally {
        await p.close()
      }
    })
  })
})
