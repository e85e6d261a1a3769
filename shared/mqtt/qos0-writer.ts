// QoS 0 PUBLISH packets, encoded here with mqtt-packet (the encoder MQTT.js uses, so the bytes are the same)
// and written to the socket together, one write per refill of the window. For QoS 0 MQTT.js keeps nothing (no
// packet identifier, no store); its publish() only costs: the options, an event and six socket writes a
// packet, three times the CPU of this (docs/performance.md, "Where the time goes per message").
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

  constructor(
    private readonly socket: WritableSocket,
    private readonly v5: boolean,
    /** The positions written (handed to the socket), in order: MQTT.js calls back a QoS 0 publish at the same moment. */
    private readonly written: (positions: number[]) => void,
  ) {}

  /** Encodes `p` (QoS 0) as window position `k`; it goes out with the next flush. */
  add(k: number, p: Publish): void {
    const packet = { cmd: 'publish' as const, topic: p.topic, payload: p.payload, qos: 0 as const, retain: p.retain, dup: false }
    const withProperties = this.v5 && p.properties ? { ...packet, properties: p.properties } : packet
    this.packets.push(mqttPacket.generate(withProperties, { protocolVersion: this.v5 ? 5 : 4 }))
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
    if (this.socket.write(chunk)) this.written(positions)
    else this.socket.once('drain', () => this.written(positions))
    return true
  }
}
