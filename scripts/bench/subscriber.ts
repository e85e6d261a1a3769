// The counting subscriber, in its own process (started by deliveries.ts through fork, with tsx).
// It counts distinct deliveries per batch key (the payload's `<key>:<seq>:` prefix) and answers each
// `expect` once that many arrived, or when its time is up, with what did arrive. Timestamps are
// process.hrtime (CLOCK_MONOTONIC), comparable with the parent's.
import { connectAsync } from 'mqtt'
import { messageOf } from '../../shared/errors.js'
import { SUBSCRIPTIONS } from './messages.js'

export type ToSubscriber = { type: 'expect'; key: string; count: number; timeoutMs: number } | { type: 'stop' }
export type FromSubscriber =
  | { type: 'ready' }
  | { type: 'result'; key: string; expected: number; delivered: number; total: number; firstAt: string; lastAt: string }
  | { type: 'error'; message: string }

interface Tally {
  seqs: Set<number>
  total: number
  firstAt: bigint
  lastAt: bigint
}

interface Expectation {
  count: number
  timer: NodeJS.Timeout
}

const send = (m: FromSubscriber) => process.send?.(m)

async function main(): Promise<void> {
  const url = process.argv[2]
  if (!url || !process.send) throw new Error('usage: fork subscriber.ts <mqtt-url> (with an IPC channel)')
  const tallies = new Map<string, Tally>()
  const expectations = new Map<string, Expectation>()
  let stopping = false

  const report = (key: string) => {
    const e = expectations.get(key)
    if (!e) return
    clearTimeout(e.timer)
    expectations.delete(key)
    const t = tallies.get(key)
    tallies.delete(key)
    send({
      type: 'result',
      key,
      expected: e.count,
      delivered: t?.seqs.size ?? 0,
      total: t?.total ?? 0,
      firstAt: String(t?.firstAt ?? 0n),
      lastAt: String(t?.lastAt ?? 0n),
    })
  }

  const client = await connectAsync(url, {
    protocolVersion: 5,
    clientId: `bench-sub-${process.pid}`,
    reconnectPeriod: 0,
    clean: true,
    keepalive: 60,
  })
  client.on('error', (err) => send({ type: 'error', message: `subscriber: ${err.message}` }))
  client.on('close', () => {
    if (!stopping) send({ type: 'error', message: 'subscriber: the connection to the broker closed' })
  })
  client.on('message', (_topic, payload) => {
    const now = process.hrtime.bigint()
    const a = payload.indexOf(0x3a)
    const b = a < 0 ? -1 : payload.indexOf(0x3a, a + 1)
    if (b < 0) return
    const key = payload.toString('latin1', 0, a)
    const seq = Number(payload.toString('latin1', a + 1, b))
    let t = tallies.get(key)
    if (!t) {
      t = { seqs: new Set(), total: 0, firstAt: now, lastAt: now }
      tallies.set(key, t)
    }
    t.total++
    t.seqs.add(seq)
    t.lastAt = now
    const e = expectations.get(key)
    if (e && t.seqs.size >= e.count) report(key)
  })
  await client.subscribeAsync(Object.fromEntries(SUBSCRIPTIONS.map((topic) => [topic, { qos: 1 as const }])))

  process.on('message', (m: ToSubscriber) => {
    if (m.type === 'stop') {
      stopping = true
      for (const e of expectations.values()) clearTimeout(e.timer)
      client.end(true, {}, () => process.exit(0))
      return
    }
    expectations.set(m.key, { count: m.count, timer: setTimeout(() => report(m.key), m.timeoutMs) })
    const t = tallies.get(m.key)
    if (t && t.seqs.size >= m.count) report(m.key)
  })
  // The parent going away must not leave this process behind.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready' })
}

main().catch((err) => {
  send({ type: 'error', message: `subscriber: ${messageOf(err)}` })
  process.exit(1)
})
