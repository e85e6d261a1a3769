// Every file-system call of the store ends by the caller's deadline (shared/dead-letters/bounded-fs.ts),
// also one that hangs after its file is open: a FIFO opened read-write takes 64 KB (the pipe buffer) and
// then blocks every write, as a hung NAS mount does. Appends queued behind it end by their own deadlines.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { appendLines } from '../../../shared/dead-letters/bounded-fs.js'
import { FilesystemTimeoutError } from '../../../shared/errors.js'

const root = mkdtempSync(join(tmpdir(), 'dl-bounded-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** How an append ended, and when (ms after `t0`). */
async function outcome(p: Promise<unknown>, t0: number): Promise<{ ms: number; error?: Error }> {
  try {
    await p
    return { ms: Date.now() - t0 }
  } catch (err) {
    return { ms: Date.now() - t0, error: err as Error }
  }
}

/** Fails the test instead of hanging it. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

/** A FIFO whose writes block once 64 KB wait in it; drain() reads it until every writer has closed it. */
function fifo(name: string): { path: string; drain: () => Promise<void> } {
  const path = join(root, name)
  execFileSync('mkfifo', [path])
  return {
    path,
    drain: () =>
      new Promise<void>((resolve, reject) => {
        const cat = spawn('cat', [path], { stdio: ['ignore', 'ignore', 'inherit'] })
        cat.on('error', reject)
        cat.on('exit', () => resolve())
      }),
  }
}

describe('bounded-fs: a call that hangs after its file is open', () => {
  test('a write that blocks fails by its deadline, and an append after it fails by its own', async () => {
    const f = fifo('after-open.jsonl')
    try {
      const t0 = Date.now()
      const first = outcome(appendLines(f.path, `${'x'.repeat(200_000)}\n`, t0 + 300), t0)
      const firstEnd = await within(5000, 'the first append', first)
      assert.ok(firstEnd.error instanceof FilesystemTimeoutError, String(firstEnd.error))
      assert.match(
        firstEnd.error.message,
        /^write .*after-open\.jsonl did not finish within the \d+ ms left before the invocation's deadline/,
      )
      assert.ok(firstEnd.ms < 1000, `the first append ended after ${firstEnd.ms} ms (deadline 300 ms)`)

      const t1 = Date.now()
      const second = await within(5000, 'the second append', outcome(appendLines(f.path, 'small\n', t1 + 300), t1))
      assert.ok(second.error instanceof FilesystemTimeoutError, String(second.error))
      assert.match(second.error.message, /after-open\.jsonl did not finish within the \d+ ms left/)
      assert.ok(second.ms < 1000, `the second append ended after ${second.ms} ms (deadline 300 ms)`)
    } finally {
      await within(10_000, 'draining the FIFO', f.drain())
    }
  })

  test('an append queued behind one still hanging ends by its own, earlier deadline', async () => {
    const f = fifo('queued.jsonl')
    try {
      const t0 = Date.now()
      const first = outcome(appendLines(f.path, `${'y'.repeat(200_000)}\n`, t0 + 3000), t0)
      await new Promise((r) => setTimeout(r, 100))
      const queued = await within(5000, 'the queued append', outcome(appendLines(f.path, 'small\n', Date.now() + 300), t0))
      assert.ok(queued.error instanceof FilesystemTimeoutError, String(queued.error))
      assert.match(queued.error.message, /^waiting for an earlier append to .*queued\.jsonl did not finish within/)
      assert.ok(queued.ms < 1500, `the queued append ended after ${queued.ms} ms (its deadline: 400 ms)`)
      const firstEnd = await within(5000, 'the first append', first)
      assert.ok(firstEnd.error instanceof FilesystemTimeoutError, String(firstEnd.error))
      assert.ok(firstEnd.ms < 4000, `the first append ended after ${firstEnd.ms} ms (deadline 3000 ms)`)
    } finally {
      await within(10_000, 'draining the FIFO', f.drain())
    }
  })

  test('appends to a file that works are not held up: they run in turn, each line whole', async () => {
    const path = join(root, 'plain.jsonl')
    const deadline = Date.now() + 5000
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => appendLines(path, `${JSON.stringify({ i, pad: 'p'.repeat(i * 100) })}\n`, deadline)),
    )
    const { readFileSync } = await import('node:fs')
    const lines = readFileSync(path, 'utf8').trim().split('\n')
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 20 }, (_, i) => i),
    )
  })
})
