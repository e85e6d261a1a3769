// A PINGREQ/PINGRESP round trip: whether a connection that looks open is alive. Used after an idle spell
// longer than the keepalive (Function Compute freezes idle instances; the broker may have given up on the
// connection meanwhile), and before a message is resent alone to find out whether it is poison.
import type { Packet } from 'mqtt'
import type { Clock } from './clock.js'

export interface PingClient {
  sendPing(): void
  on(event: 'packetreceive', listener: (packet: Packet) => void): unknown
  on(event: 'close' | 'error', listener: () => void): unknown
  removeListener(event: 'packetreceive', listener: (packet: Packet) => void): unknown
  removeListener(event: 'close' | 'error', listener: () => void): unknown
}

/**
 * True on the PINGRESP; false when the connection closes or errs first, or nothing comes within `timeoutMs`.
 * `earlier`: PINGREQs written before and not yet answered (the delayed-ACK nudge writes some at the end of a
 * batch); their PINGRESPs, possibly read only now, after a frozen spell, say nothing about the connection today.
 */
export function ping(client: PingClient, clock: Clock, timeoutMs: number, earlier = 0): Promise<boolean> {
  return new Promise((resolve) => {
    let timer: ReturnType<Clock['setTimeout']> | undefined
    const done = (alive: boolean) => {
      clock.clearTimeout(timer)
      client.removeListener('packetreceive', onPacket)
      client.removeListener('close', onGone)
      client.removeListener('error', onGone)
      resolve(alive)
    }
    let owed = earlier
    const onPacket = (packet: Packet) => {
      if (packet.cmd === 'pingresp' && owed-- === 0) done(true)
    }
    const onGone = () => done(false)
    client.on('packetreceive', onPacket)
    client.on('close', onGone)
    client.on('error', onGone)
    timer = clock.setTimeout(() => done(false), Math.max(0, timeoutMs))
    client.sendPing()
  })
}
