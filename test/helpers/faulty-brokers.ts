// Small MQTT brokers that misbehave on purpose, over mqtt-packet (MQTT.js's own encoder and parser), for the
// tests of verdicts (docs/reliability.md, "Brokers that drop connections for their own reasons"). They speak
// MQTT 3.1.1 and 5 well enough for a publisher: CONNECT/CONNACK, PUBLISH at QoS 0, 1 and 2 with its
// acknowledgements, PINGREQ/PINGRESP, DISCONNECT. What each does with a PUBLISH is a `Behaviour`, which a
// test may swap while the broker runs (to make it behave, say). No subscriber: the broker itself records
// what it read, in order, which is what a subscriber would get from it.
import { createServer, type Server, type Socket } from 'node:net'
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet'

/** What the broker does with one PUBLISH. */
export type Answer =
  /** Acknowledge it (PUBACK, or PUBREC then PUBCOMP). */
  | 'ack'
  /** Close the connection on it, unanswered, without a DISCONNECT (as a proxy resetting on data would). */
  | 'close'
  /** Read it and never answer. */
  | 'ignore'
  /** MQTT 5: a DISCONNECT with this reason code (and string), then the close; on 3.1.1, the close alone. */
  | { disconnect: number; reasonString?: string }

export interface PublishRead {
  topic: string
  payload: string
  qos: number
  /** The connection it came on, from 1. */
  connection: number
}

/** `read`: PUBLISH packets read so far, this one included, across connections (from 1). */
export type Behaviour = (publish: PublishRead, read: number) => Answer

export const behaves: Behaviour = () => 'ack'
/** A proxy that resets on data, a 3.1.1 broker that disconnects a client it will not serve. */
export const closesOnEveryPublish: Behaviour = () => 'close'
/** Closes the connection on every Nth PUBLISH it reads, whatever it holds. */
export const closesEveryNth =
  (n: number): Behaviour =>
  (_, read) =>
    read % n === 0 ? 'close' : 'ack'
/** Never answers the PUBLISH with this payload; acknowledges everything else. */
export const neverAcknowledges =
  (payload: string): Behaviour =>
  (p) =>
    p.payload === payload ? 'ignore' : 'ack'
/** Closes the connection each time the PUBLISH with this payload comes (a real poison message), else as `otherwise`. */
export const poisonedBy =
  (payload: string, otherwise: Behaviour): Behaviour =>
  (p, read) =>
    p.payload === payload ? 'close' : otherwise(p, read)

export interface FaultyBroker {
  url: string
  behaviour: Behaviour
  /** Every PUBLISH read, in order, duplicates included. */
  readonly received: PublishRead[]
  /** Payloads acknowledged, in order (a QoS 0 message counts once read). */
  readonly acknowledged: string[]
  readonly connections: number
  close(): Promise<void>
}

export async function startFaultyBroker(behaviour: Behaviour): Promise<FaultyBroker> {
  const sockets = new Set<Socket>()
  const received: PublishRead[] = []
  const acknowledged: string[] = []
  let connections = 0
  const broker: FaultyBroker = {
    url: '',
    behaviour,
    received,
    acknowledged,
    get connections() {
      return connections
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  const server: Server = createServer((socket) => {
    const connection = ++connections
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    const parser = mqttPacket.parser()
    let version = 4
    /** Payloads of the QoS 2 publishes awaiting PUBREL, by packet identifier. */
    const pending = new Map<number, string>()
    const send = (packet: Packet) => {
      if (!socket.destroyed) socket.write(mqttPacket.generate(packet, { protocolVersion: version }))
    }
    parser.on('error', () => socket.destroy())
    parser.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'connect':
          version = packet.protocolVersion ?? 4
          send(
            version === 5
              ? { cmd: 'connack', sessionPresent: false, reasonCode: 0 }
              : { cmd: 'connack', sessionPresent: false, returnCode: 0 },
          )
          return
        case 'publish':
          return onPublish(packet)
        case 'pubrel': {
          const payload = pending.get(packet.messageId!)
          pending.delete(packet.messageId!)
          if (payload !== undefined) acknowledged.push(payload)
          send({ cmd: 'pubcomp', messageId: packet.messageId! })
          return
        }
        case 'pingreq':
          send({ cmd: 'pingresp' })
          return
        case 'disconnect':
          socket.end()
          return
        default:
          return
      }
    })
    const onPublish = (packet: IPublishPacket) => {
      const read: PublishRead = { topic: packet.topic, payload: Buffer.from(packet.payload).toString(), qos: packet.qos, connection }
      received.push(read)
      const answer = broker.behaviour(read, received.length)
      if (answer === 'ignore') return
      if (answer === 'close') {
        socket.resetAndDestroy()
        return
      }
      if (answer !== 'ack') {
        if (version === 5)
          send({
            cmd: 'disconnect',
            reasonCode: answer.disconnect,
            ...(answer.reasonString ? { properties: { reasonString: answer.reasonString } } : {}),
          })
        socket.end()
        return
      }
      if (packet.qos === 0) acknowledged.push(read.payload)
      else if (packet.qos === 1) {
        acknowledged.push(read.payload)
        send({ cmd: 'puback', messageId: packet.messageId!, ...(version === 5 ? { reasonCode: 0 } : {}) })
      } else {
        pending.set(packet.messageId!, read.payload)
        send({ cmd: 'pubrec', messageId: packet.messageId!, ...(version === 5 ? { reasonCode: 0 } : {}) })
      }
    }
    socket.on('data', (chunk) => parser.parse(chunk))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  broker.url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`
  return broker
}
