// QoS 0 PUBLISH packets, encoded here byte for byte as mqtt-packet (MQTT.js's encoder) writes them (by hand;
// with MQTT 5 properties, by mqtt-packet itself) and written to the socket together, one write per refill of
// the window. For QoS 0 MQTT.js keeps nothing (no packet identifier, no store); its publish() only costs: the
// options, an event and six socket writes a packet (docs/performance.md, "Where the time goes per message").
//
// Order on the wire is the order of the window's writes: the window flushes what is held here before it hands
// anything else to MQTT.js (a QoS 1 or 2 publish, a PINGREQ) and at the end of every refill, so nothing
// overtakes a held packet and a PINGREQ still confirms every PUBLISH numbered before it (ack-ledger.ts).
import mqttPacket from 'mqtt-packet'
import type { Publish } from '../mapping/publish.js'

/** The socket, as far as this writer uses it. */
export interface WritableSocket {
  write(chunk: Buffer): boolean
  once(event: 'drain', listener: () => void): unknown
}

export class QoS0Writer {
  private packets: Buffer[] = []
  private positions: number[] = []
  /**
   * Positions handed to a full socket, in order, all written on its next 'drain' (a full socket refuses
   * every write until then); undefined while the socket takes writes. One 'drain' listener at most.
   */
  private waiting: number[][] | undefined

  constructor(
    private readonly socket: WritableSocket,
    private readonly v5: boolean,
    /** The positions written (handed to the socket), in order: MQTT.js calls back a QoS 0 publish at the same moment. */
    private readonly written: (positions: number[]) => void,
  ) {}

  /** Encodes `p` (QoS 0) as window position `k`; it goes out with the next flush. */
  add(k: number, p: Publish): void {
    if (this.v5 && p.properties) {
      const packet = { cmd: 'publish' as const, topic: p.topic, payload: p.payload, qos: 0 as const, retain: p.retain, dup: false }
      this.packets.push(mqttPacket.generate({ ...packet, properties: p.properties }, { protocolVersion: 5 }))
    } else this.packets.push(encodePlain(p.topic, p.payload, p.retain, this.v5))
    this.positions.push(k)
  }

  /**
   * Writes what is held, in one write; the positions are written when the socket takes them (at once, or on
   * 'drain'). Returns whether anything was written.
   */
  flush(): boolean {
    if (this.positions.length === 0) return false
    const positions = this.positions
    const chunk = this.packets.length === 1 ? this.packets[0]! : Buffer.concat(this.packets)
    this.packets = []
    this.positions = []
    const taken = this.socket.write(chunk)
    if (this.waiting) this.waiting.push(positions)
    else if (taken) this.written(positions)
    else {
      this.waiting = [positions]
      this.socket.once('drain', () => {
        const waited = this.waiting!
        this.waiting = undefined
        for (const ps of waited) this.written(ps)
      })
    }
    return true
  }
}

/**
 * A QoS 0 PUBLISH without properties, as mqtt-packet writes it: the fixed header (0x30, retain in bit 0), the
 * remaining length as a variable byte integer, the topic as a length-prefixed UTF-8 string, on MQTT 5 an empty
 * property list, then the payload. mqtt-packet's generate() writes through a stream of small chunks, which in
 * the bundle costs more than MQTT.js's whole publish().
 */
function encodePlain(topic: string, payload: Buffer, retain: boolean, v5: boolean): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8')
  const remaining = 2 + topicBytes + (v5 ? 1 : 0) + payload.length
  let lengthBytes = 1
  for (let r = remaining; r >= 128; r = Math.floor(r / 128)) lengthBytes++
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining)
  let at = 0
  out[at++] = retain ? 0x31 : 0x30
  let r = remaining
  do {
    let byte = r % 128
    r = Math.floor(r / 128)
    if (r > 0) byte |= 0x80
    out[at++] = byte
  } while (r > 0)
  out.writeUInt16BE(topicBytes, at)
  at += 2
  at += out.write(topic, at, 'utf8')
  if (v5) out[at++] = 0
  payload.copy(out, at)
  return out
}
