// The counting subscriber, in a process of its own (this file, forked with --child) so that it does not share the
// publishers' event loop: distinct deliveries per batch key (the payload's `<key>:<seq>:` prefix). Times are
// process.hrtime (CLOCK_MONOTONIC), comparable between the two processes.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { messageOf } from '../../shared/errors.js'
import { connectSubscriber } from '../mqtt/subscriber.js'
import { ROOT } from './coldstart.js'
import { SUBSCRIPTIONS } from './messages.js'
import { endChild } from './publishers.js'

const self = fileURLToPath(import.meta.url)

type ToChild = { type: 'expect'; key: string; count: number; timeoutMs: number } | { type: 'stop' }
type FromChild =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | ({ type: 'result' } & Omit<Delivery, 'firstAt' | 'lastAt'> & { firstAt: string; lastAt: string })

export interface Delivery {
  key: string
  expected: number
  /** Distinct messages that arrived, and all of them (QoS 1 may redeliver). */
  delivered: number
  total: number
  /** The first and last arrival (0n when none arrived). */
  firstAt: bigint
  lastAt: bigint
}

export interface Deliveries {
  /** Resolves once `count` messages of batch `key` arrived, or after `timeoutMs` with what did. */
  expect(key: string, count: number, timeoutMs?: number): Promise<Delivery>
  stop(): Promise<void>
}

export async function startDeliveries(url: string): Promise<Deliveries> {
  const child = fork(self, ['--child', url], { execArgv: ['--import', 'tsx'], cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const waiting = new Map<string, { resolve: (d: Delivery) => void; reject: (e: Error) => void }>()
  let failure: Error | undefined
  const fail = (err: Error) => {
    failure ??= err
    for (const w of waiting.values()) w.reject(failure)
    waiting.clear()
  }
  child.on('message', (m: FromChild) => {
    if (m.type === 'error') fail(new Error(m.message))
    else if (m.type === 'result') {
      waiting.get(m.key)?.resolve({ ...m, firstAt: BigInt(m.firstAt), lastAt: BigInt(m.lastAt) })
      waiting.delete(m.key)
    }
  })
  child.once('exit', (code) => fail(new Error(`the bench subscriber exited (code ${code})`)))
  // Its first message: ready, or the error that stopped it.
  let timer: NodeJS.Timeout | undefined
  await new Promise<void>((ready, reject) => {
    timer = setTimeout(() => reject(new Error('the bench subscriber did not start within 15 s')), 15_000)
    child.once('message', (m: FromChild) => (m.type === 'ready' ? ready() : reject(failure)))
    child.once('exit', () => reject(failure))
  }).finally(() => clearTimeout(timer))
  const post = (m: ToChild) => child.send(m)
  return {
    expect(key, count, timeoutMs = 15_000 + count) {
      if (failure) return Promise.reject(failure)
      return new Promise((resolveDelivery, reject) => {
        waiting.set(key, { resolve: resolveDelivery, reject })
        post({ type: 'expect', key, count, timeoutMs })
      })
    },
    stop: () => endChild(child, () => (child.connected ? post({ type: 'stop' }) : child.kill('SIGTERM')), 3000),
  }
}

async function child(url: string): Promise<void> {
  const send = (m: FromChild) => process.send!(m)
  const tallies = new Map<string, { seqs: Set<number>; total: number; firstAt: bigint; lastAt: bigint }>()
  const expectations = new Map<string, { count: number; timer: NodeJS.Timeout }>()
  const report = (key: string) => {
    const e = expectations.get(key)
    if (!e) return
    clearTimeout(e.timer)
    expectations.delete(key)
    const t = tallies.get(key)
    tallies.delete(key)
    const [delivered, total, firstAt, lastAt] = t ? [t.seqs.size, t.total, t.firstAt, t.lastAt] : [0, 0, 0n, 0n]
    send({ type: 'result', key, expected: e.count, delivered, total, firstAt: String(firstAt), lastAt: String(lastAt) })
  }
  const sub = await connectSubscriber({
    url,
    topics: SUBSCRIPTIONS,
    qos: 1,
    protocol: 5,
    clientId: `bench-sub-${process.pid}`,
    keep: false,
    onMessage: ({ payload }) => {
      const now = process.hrtime.bigint()
      const a = payload.indexOf(0x3a)
      const b = a < 0 ? -1 : payload.indexOf(0x3a, a + 1)
      if (b < 0) return
      const key = payload.toString('latin1', 0, a)
      const t = tallies.get(key) ?? { seqs: new Set<number>(), total: 0, firstAt: now, lastAt: now }
      tallies.set(key, t)
      t.total++
      t.seqs.add(Number(payload.toString('latin1', a + 1, b)))
      t.lastAt = now
      if (t.seqs.size >= (expectations.get(key)?.count ?? Number.POSITIVE_INFINITY)) report(key)
    },
  })
  sub.onConnection = (e) =>
    send({ type: 'error', message: `subscriber: the connection to the broker was lost (${e.kind === 'lost' ? e.reason : ''})` })
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') {
      for (const e of expectations.values()) clearTimeout(e.timer)
      sub.close().then(() => process.exit(0))
      return
    }
    expectations.set(m.key, { count: m.count, timer: setTimeout(() => report(m.key), m.timeoutMs) })
    if ((tallies.get(m.key)?.seqs.size ?? 0) >= m.count) report(m.key)
  })
  // The parent going away must not leave this process behind.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready' })
}

if (process.argv[2] === '--child')
  child(process.argv[3]!).catch((err) => {
    process.send?.({ type: 'error', message: `subscriber: ${messageOf(err)}` })
    process.exit(1)
  })
