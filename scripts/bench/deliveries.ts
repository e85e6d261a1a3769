// The parent's side of the counting subscriber: starts subscriber.ts in its own process and
// turns its answers into promises: "how many of batch <key> arrived, and when did the last one".
import { type ChildProcess, fork } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FromSubscriber, ToSubscriber } from './subscriber.js'

const here = dirname(fileURLToPath(import.meta.url))
export const ROOT = resolve(here, '../..')

export interface Delivery {
  key: string
  expected: number
  /** Distinct messages of the batch that arrived. */
  delivered: number
  /** Including duplicates (QoS 1 may redeliver). */
  total: number
  /** process.hrtime.bigint() of the first and last arrival (0n when none arrived). */
  firstAt: bigint
  lastAt: bigint
}

export interface Deliveries {
  /** Resolves once `count` messages of batch `key` arrived, or after `timeoutMs` with what did. */
  expect(key: string, count: number, timeoutMs?: number): Promise<Delivery>
  stop(): Promise<void>
}

export async function startDeliveries(url: string): Promise<Deliveries> {
  const child: ChildProcess = fork(join(here, 'subscriber.ts'), [url], {
    execArgv: ['--import', 'tsx'],
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const waiting = new Map<string, (d: Delivery) => void>()
  let failure: Error | undefined
  const failAll = (err: Error) => {
    failure ??= err
    for (const [key, done] of waiting) done({ key, expected: -1, delivered: 0, total: 0, firstAt: 0n, lastAt: 0n })
    waiting.clear()
  }
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench subscriber did not start within 15 s')), 15_000)
    child.on('message', (m: FromSubscriber) => {
      if (m.type === 'ready') {
        clearTimeout(timer)
        resolveReady()
      } else if (m.type === 'error') {
        clearTimeout(timer)
        failAll(new Error(m.message))
        reject(new Error(m.message))
      } else {
        const done = waiting.get(m.key)
        waiting.delete(m.key)
        done?.({
          key: m.key,
          expected: m.expected,
          delivered: m.delivered,
          total: m.total,
          firstAt: BigInt(m.firstAt),
          lastAt: BigInt(m.lastAt),
        })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      const err = new Error(`the bench subscriber exited (code ${code})`)
      failAll(err)
      reject(err)
    })
  })
  const post = (m: ToSubscriber) => child.send(m)
  return {
    expect(key, count, timeoutMs = 15_000 + count) {
      if (failure) return Promise.reject(failure)
      return new Promise((resolveDelivery, reject) => {
        waiting.set(key, (d) => (failure ? reject(failure) : resolveDelivery(d)))
        post({ type: 'expect', key, count, timeoutMs })
      })
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      if (child.connected) post({ type: 'stop' })
      else child.kill('SIGTERM')
      await gone
      clearTimeout(timer)
    },
  }
}
