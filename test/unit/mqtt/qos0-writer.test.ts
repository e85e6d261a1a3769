// The QoS 0 writer (shared/mqtt/qos0-writer.ts): what a refill encoded goes out in one write, in order, as the
// size the packet limit was checked against, and each position is written when the socket takes it.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, test } from 'node:test'
import mqttPacket, { type IPublishPacket } from 'mqtt-packet'
import type { Publish } from '../../../shared/mapping/publish.js'
import { publishPacketBytes } from '../../../shared/mqtt/packet-size.js'
import { QoS0Writer } from '../../../shared/mqtt/qos0-writer.js'

class Socket extends EventEmitter {
  readonly chunks: Buffer[] = []
  full = false
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return !this.full
  }
}

const publish = (topic: string, body: string, over: Partial<Publish> = {}): Publish =>
  ({ index: 0, ruleId: 'r', topic, payload: Buffer.from(body), qos: 0, retain: false, ...over }) as Publish

/** The PUBLISH packets in `bytes`, as a broker reads them. */
function read(bytes: Buffer, protocolVersion: 4 | 5): IPublishPacket[] {
  const parser = mqttPacket.parser({ protocolVersion })
  const out: IPublishPacket[] = []
  parser.on('packet', (p) => out.push(p as IPublishPacket))
  parser.on('error', (err) => assert.fail(err))
  parser.parse(bytes)
  return out
}

describe('QoS0Writer', () => {
  test('held until the flush, then one write of every packet in order; each position written at once', () => {
    const socket = new Socket()
    const written: number[][] = []
    const w = new QoS0Writer(socket, false, (ps) => written.push(ps))
    w.add(3, publish('a/1', 'one'))
    w.add(4, publish('a/2', 'two', { retain: true }))
    assert.equal(socket.chunks.length, 0)
    assert.equal(w.flush(), true)
    assert.equal(socket.chunks.length, 1)
    assert.deepEqual(written, [[3, 4]])
    const packets = read(socket.chunks[0]!, 4)
    assert.deepEqual(
      packets.map((p) => [p.topic, p.payload.toString(), p.qos, p.retain]),
      [
        ['a/1', 'one', 0, false],
        ['a/2', 'two', 0, true],
      ],
    )
    assert.equal(w.flush(), false, 'nothing held: nothing written')
    assert.equal(socket.chunks.length, 1)
  })

  test('without properties, encoded by hand exactly as mqtt-packet does: any remaining length, UTF-8 topics, both versions', () => {
    for (const v5 of [false, true]) {
      for (const size of [0, 100, 127, 128, 16_383, 16_384, 70_000]) {
        const p = publish('d/é/中文', 'x'.repeat(size), { retain: size % 2 === 0 })
        const socket = new Socket()
        const w = new QoS0Writer(socket, v5, () => {})
        w.add(0, p)
        w.flush()
        const reference = { cmd: 'publish' as const, topic: p.topic, payload: p.payload, qos: 0 as const, retain: p.retain, dup: false }
        assert.deepEqual(socket.chunks[0], mqttPacket.generate(reference, { protocolVersion: v5 ? 5 : 4 }), `v5 ${v5}, ${size} bytes`)
        assert.equal(socket.chunks[0]!.length, publishPacketBytes(p, v5))
      }
    }
  })

  test("a socket that is full: the positions are written on its 'drain'", () => {
    const socket = new Socket()
    socket.full = true
    const written: number[][] = []
    const w = new QoS0Writer(socket, false, (ps) => written.push(ps))
    w.add(0, publish('a', 'x'))
    w.flush()
    assert.deepEqual(written, [])
    socket.emit('drain')
    assert.deepEqual(written, [[0]])
  })

  test("many flushes into a full socket wait on one 'drain' listener, then are written in order", () => {
    const socket = new Socket()
    socket.full = true
    const written: number[][] = []
    const w = new QoS0Writer(socket, false, (ps) => written.push(ps))
    for (let k = 0; k < 15; k++) {
      w.add(k, publish('a', 'x'))
      w.flush()
    }
    assert.equal(socket.listenerCount('drain'), 1)
    socket.full = false
    socket.emit('drain')
    assert.deepEqual(
      written,
      Array.from({ length: 15 }, (_, k) => [k]),
    )
    assert.equal(socket.listenerCount('drain'), 0)
    // The socket takes writes again: the next flush is written at once.
    w.add(15, publish('a', 'x'))
    w.flush()
    assert.deepEqual(written.at(-1), [15])
  })

  test('MQTT 5 properties on a version-5 connection, none on 3.1.1; as many bytes as the packet limit was checked against', () => {
    const properties = { userProperties: { seq: '7' }, contentType: 'text/plain', messageExpiryInterval: 60 }
    for (const v5 of [true, false]) {
      const socket = new Socket()
      const w = new QoS0Writer(socket, v5, () => {})
      const p = publish('t/p', 'body', { properties })
      w.add(0, p)
      w.flush()
      const [read0] = read(socket.chunks[0]!, v5 ? 5 : 4)
      assert.deepEqual(JSON.parse(JSON.stringify(read0!.properties ?? null)), v5 ? properties : null)
      assert.equal(socket.chunks[0]!.length, publishPacketBytes(p, v5))
    }
  })
})
