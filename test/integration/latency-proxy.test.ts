// The latency-injecting proxy of the tests and the benchmark, against a plain TCP echo server: bytes intact
// and in order, the round trip it adds (a lower bound only: load can add to it, never take away), the MQTT
// framing it reads to drop one PUBLISH, and a close passed on.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { mqttFilter, startLatencyProxy } from '../helpers/latency-proxy.js'

let echo: Server
let echoPort: number
const ends: string[] = []

before(async () => {
  echo = createServer((s) => {
    s.on('data', (d) => s.write(d))
    s.on('end', () => {
      ends.push('end')
      s.end()
    })
  })
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
  echoPort = (echo.address() as { port: number }).port
})
after(() => new Promise<void>((r) => echo.close(() => r())))

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** Reads from `s` until `bytes` bytes arrived. */
function read(s: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    let got = 0
    const onData = (d: Buffer) => {
      parts.push(d)
      got += d.length
      if (got >= bytes) {
        s.removeListener('data', onData)
        resolve(Buffer.concat(parts))
      }
    }
    s.on('data', onData)
  })
}

describe('latency proxy', () => {
  for (const rttMs of [0, 2, 20]) {
    test(`round trip ${rttMs} ms: 2,000 chunks of random bytes come back intact and in order`, async () => {
      const proxy = await startLatencyProxy({ host: '127.0.0.1', port: echoPort }, { rttMs })
      const s = await open(proxy.port)
      try {
        const chunks = Array.from({ length: 2000 }, () => randomBytes(1 + Math.floor(Math.random() * 300)))
        const sent = Buffer.concat(chunks)
        const back = read(s, sent.length)
        for (const c of chunks) s.write(c)
        assert.ok((await back).equals(sent))
      } finally {
        s.destroy()
        await proxy.close()
      }
    })
  }

  test('a round trip of 20 ms takes at least 20 ms, each of 10 in turn', async () => {
    const proxy = await startLatencyProxy({ host: '127.0.0.1', port: echoPort }, { rttMs: 20 })
    const s = await open(proxy.port)
    try {
      for (let i = 0; i < 10; i++) {
        const t = performance.now()
        const back = read(s, 1)
        s.write('x')
        await back
        const ms = performance.now() - t
        assert.ok(ms >= 20, `round trip ${i} took ${ms.toFixed(2)} ms`)
      }
    } finally {
      s.destroy()
      await proxy.close()
    }
  })

  test('a round trip of 2 ms is never shorter, even when other input wakes the event loop all the time', async () => {
    const proxy = await startLatencyProxy({ host: '127.0.0.1', port: echoPort }, { rttMs: 2 })
    const s = await open(proxy.port)
    // Another process sends a byte every 0.1 ms, so this loop wakes just after each millisecond starts: a timer
    // counted from the loop's whole millisecond then fires as soon as that millisecond comes, before its delay
    // has passed since the chunk was read, and a proxy that trusted it would hand chunks on early.
    const noise = createServer((c) => c.resume())
    await new Promise<void>((r) => noise.listen(0, '127.0.0.1', () => r()))
    const { port } = noise.address() as { port: number }
    const code = `const s=require('net').connect(${port},'127.0.0.1',()=>{let t=process.hrtime.bigint();const end=t+3000000000n;while((t=process.hrtime.bigint())<end){const next=t+100000n;while(process.hrtime.bigint()<next);s.write('x')}s.end()})`
    const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' })
    try {
      await new Promise<void>((r) => noise.once('connection', () => r()))
      const short: string[] = []
      for (let i = 0; i < 200; i++) {
        const t = performance.now()
        const back = read(s, 1)
        s.write('x')
        await back
        const ms = performance.now() - t
        if (ms < 2) short.push(ms.toFixed(2))
      }
      assert.deepEqual(short, [], 'round trips shorter than 2 ms')
    } finally {
      child.kill()
      s.destroy()
      await proxy.close()
      noise.close()
    }
  })

  test('the end of one side is passed on, after what it sent', async () => {
    const proxy = await startLatencyProxy({ host: '127.0.0.1', port: echoPort }, { rttMs: 2 })
    const s = await open(proxy.port)
    const before = ends.length
    const back = read(s, 3)
    const closed = new Promise((r) => s.once('close', r))
    s.end('bye')
    // The echo of what was sent before the end comes back first, then the server's own end.
    assert.equal((await back).toString(), 'bye')
    await closed
    await proxy.close()
    assert.equal(ends.length, before + 1)
    assert.equal(proxy.connections, 1)
  })
})

describe('latency proxy: dropping a PUBLISH', () => {
  /** An MQTT 3.1.1 PUBLISH (QoS 1) to `topic`, with a remaining length over 127 when the payload is long. */
  function publish(topic: string, payload: Buffer, id: number): Buffer {
    const t = Buffer.from(topic)
    const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from([id >> 8, id & 0xff]), payload])
    const len: number[] = []
    let n = body.length
    do {
      let b = n % 128
      n = Math.floor(n / 128)
      if (n > 0) b |= 0x80
      len.push(b)
    } while (n > 0)
    return Buffer.concat([Buffer.from([0x32, ...len]), body])
  }

  test('exactly the chosen packets are left out, whatever the chunk boundaries; every other byte passes unchanged', () => {
    const packets = [
      publish('a/keep', Buffer.alloc(10, 1), 1),
      publish('a/drop', Buffer.alloc(300, 2), 2),
      Buffer.from([0xc0, 0x00]),
      publish('a/keep', randomBytes(20_000), 3),
      publish('a/drop', Buffer.alloc(1, 4), 4),
    ]
    const stream = Buffer.concat(packets)
    const expected = Buffer.concat([packets[0]!, packets[2]!, packets[3]!])
    for (const size of [1, 3, 7, 64, 1000, stream.length]) {
      let dropped = 0
      const filter = mqttFilter(
        (topic) => topic === 'a/drop',
        () => dropped++,
      )
      const out: Buffer[] = []
      for (let at = 0; at < stream.length; at += size) out.push(filter(stream.subarray(at, at + size)))
      assert.ok(Buffer.concat(out).equals(expected), `chunks of ${size}`)
      assert.equal(dropped, 2)
    }
  })

  test('through the proxy: the dropped PUBLISH never reaches the other side, and the proxy counts it', async () => {
    const proxy = await startLatencyProxy({ host: '127.0.0.1', port: echoPort }, { rttMs: 2, dropPublish: (t) => t === 'x/lost' })
    const s = await open(proxy.port)
    try {
      const kept = publish('x/kept', Buffer.from('k'), 7)
      const back = read(s, kept.length * 2)
      s.write(Buffer.concat([kept, publish('x/lost', Buffer.from('l'), 8), kept]))
      assert.ok((await back).equals(Buffer.concat([kept, kept])))
      assert.equal(proxy.dropped, 1)
    } finally {
      s.destroy()
      await proxy.close()
    }
  })
})
