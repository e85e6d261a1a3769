// A userspace TCP proxy that adds a round trip (this kernel has no netem): each chunk is written on half the round
// trip later, in order, with Nagle off on both sockets, so a broker's own Nagle still meets the client's delayed ACK
// as across a network. It can drop chosen PUBLISH packets on their way to the broker, for the tests.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/** `connections` accepted and PUBLISH packets `dropped` so far. */
export type LatencyProxy = Awaited<ReturnType<typeof startLatencyProxy>>

export interface LatencyProxyOptions {
  /** Half of it each way; 0 passes bytes straight through. */
  rttMs: number
  /** For each PUBLISH from client to broker: true drops it. */
  dropPublish?: (topic: string) => boolean
}

export async function startLatencyProxy(target: { host: string; port: number }, options: LatencyProxyOptions) {
  const sockets = new Set<Socket>()
  let connections = 0
  let dropped = 0
  const oneWayMs = options.rttMs / 2
  // Half-open on both sides: an end travels on its own, after what was sent before it, as FIN does.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    connections++
    const upstream = tcpConnect({ port: target.port, host: target.host, allowHalfOpen: true })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.setNoDelay(true)
      s.once('close', () => sockets.delete(s))
      // Either side going away takes the other with it (what is still delayed is dropped, as on a cut link).
      s.once('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    const toBroker = options.dropPublish
      ? mqttFilter(options.dropPublish, () => {
          dropped++
        })
      : (chunk: Buffer) => chunk
    relay(client, upstream, oneWayMs, toBroker)
    relay(upstream, client, oneWayMs, (chunk) => chunk)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get connections() {
      return connections
    },
    get dropped() {
      return dropped
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/**
 * Copies `from` to `to`, each chunk `delayMs` after it was read, in order; an end follows the last chunk. Node's
 * timers count from the event loop's cached millisecond, so a timer can fire almost a millisecond before its
 * delay has passed: each chunk keeps its due time on the high-resolution clock and goes only once that came,
 * so the delay is a floor (a timer's tick may add to it, never take away).
 */
function relay(from: Socket, to: Socket, delayMs: number, transform: (chunk: Buffer) => Buffer): void {
  const queue: Array<{ due: number; out: Buffer | 'end' }> = []
  let timer: NodeJS.Timeout | undefined
  const send = (out: Buffer | 'end') => {
    if (out === 'end') to.end()
    else if (!to.destroyed && out.length > 0 && !to.write(out)) {
      from.pause()
      to.once('drain', () => from.resume())
    }
  }
  const flush = () => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0]!.due <= now) send(queue.shift()!.out)
    if (queue.length > 0) timer = setTimeout(flush, Math.max(1, Math.ceil(queue[0]!.due - now)))
  }
  const later = (out: Buffer | 'end') => {
    if (delayMs === 0) return send(out)
    queue.push({ due: performance.now() + delayMs, out })
    timer ??= setTimeout(flush, Math.ceil(delayMs))
  }
  let ended = false
  from.on('data', (chunk: Buffer) => later(transform(chunk)))
  from.once('end', () => {
    ended = true
    later('end')
  })
  // Closed without an end (reset): the link is cut, and what it still carried is lost with it.
  from.once('close', () => {
    if (ended) return
    if (timer) clearTimeout(timer)
    queue.length = 0
    to.destroy()
  })
}

/** The byte stream without each PUBLISH whose topic `drop` picks; an incomplete packet waits for more bytes. */
export function mqttFilter(drop: (topic: string) => boolean, onDrop: () => void): (chunk: Buffer) => Buffer {
  let pending: Buffer = Buffer.alloc(0)
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const out: Buffer[] = []
    let at = 0
    for (;;) {
      const header = remainingLength(pending, at)
      if (!header || at + header.start + header.length > pending.length) break
      const end = at + header.start + header.length
      const packet = pending.subarray(at, end)
      const isPublish = packet[0]! >> 4 === 3
      if (isPublish && drop(packet.toString('utf8', header.start + 2, header.start + 2 + packet.readUInt16BE(header.start)))) onDrop()
      else out.push(packet)
      at = end
    }
    pending = pending.subarray(at)
    return Buffer.concat(out)
  }
}

/** The remaining length of the packet at `at` and where its variable header starts, or undefined if incomplete. */
function remainingLength(buf: Buffer, at: number): { length: number; start: number } | undefined {
  let length = 0
  for (let i = 1; i <= 4; i++) {
    if (at + i >= buf.length) return undefined
    const byte = buf[at + i]!
    length += (byte & 0x7f) * 128 ** (i - 1)
    if ((byte & 0x80) === 0) return { length, start: i + 1 }
  }
  throw new Error('malformed MQTT remaining length')
}
