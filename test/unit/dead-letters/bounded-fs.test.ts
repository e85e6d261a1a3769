// Every file-system call of the store ends by the caller's deadline on the store's clock
// (shared/dead-letters/store/fs.ts), also one that hangs after its file is open: a FIFO opened read-write
// takes 64 KB (the pipe buffer) and then blocks every write, as a hung NAS mount does. Appends queued
// behind it end by their own deadlines. The clock is moved by hand, once the call that hangs has begun.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { BoundedFs } from '../../../shared/dead-letters/store/fs.js'
import { FilesystemTimeoutError } from '../../../shared/errors.js'
import { FakeClock } from '../mqtt/fakes.js'

const root = mkdtempSync(join(tmpdir(), 'dl-bounded-'))
after(() => rmSync(root, { recursive: true, force: true }))

/** A BoundedFs that says when a call begins: the barrier these tests wait on instead of a sleep. */
class Watched extends BoundedFs {
  private waiters: Array<{ match: RegExp; resolve: () => void }> = []
  began(match: RegExp): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }))
  }
  override bounded<T>(what: string, call: () => Promise<T>, release?: (late: T) => unknown): Promise<T> {
    const out = super.bounded(what, call, release)
    for (const w of this.waiters.filter((x) => x.match.test(what))) w.resolve()
    return out
  }
}

const settled = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as Error,
  )

/** A FIFO whose writes block once 64 KB wait in it; drain() reads it until every writer has closed it. */
function fifo(name: string): { path: string; drain: () => Promise<void> } {
  const path = join(root, name)
  execFileSync('mkfifo', [path])
  return {
    path,
    drain: () =>
      new Promise<void>((resolve, reject) =>
        spawn('cat', [path], { stdio: 'ignore' })
          .on('error', reject)
          .on('exit', () => resolve()),
      ),
  }
}

describe('bounded-fs: a call that hangs after its file is open', () => {
  test('a write that blocks fails at its deadline, not before; an append after it fails by its own', { timeout: 20_000 }, async () => {
    const f = fifo('after-open.jsonl')
    const clock = new FakeClock()
    try {
      const fs = new Watched(clock, clock.now() + 300)
      const writing = fs.began(/^write /)
      const first = settled(fs.appendLines(f.path, `${'x'.repeat(200_000)}\n`))
      await writing
      clock.advance(299)
      assert.equal(
        await Promise.race([first, new Promise((r) => setImmediate(() => r('pending')))]),
        'pending',
        'still waiting before the deadline',
      )
      clock.advance(1)
      const error = await first
      assert.ok(error instanceof FilesystemTimeoutError, String(error))
      assert.match(error.message, /^write .*after-open\.jsonl did not finish within the 300 ms left before the invocation's deadline/)

      const later = new Watched(clock, clock.now() + 300)
      const writingAgain = later.began(/^write /)
      const second = settled(later.appendLines(f.path, 'small\n'))
      await writingAgain
      clock.advance(300)
      const error2 = await second
      assert.ok(error2 instanceof FilesystemTimeoutError, String(error2))
      assert.match(error2.message, /^write .*after-open\.jsonl did not finish within the 300 ms left/)
    } finally {
      await f.drain()
    }
  })

  test('an append queued behind one still hanging ends by its own, earlier deadline', { timeout: 20_000 }, async () => {
    const f = fifo('queued.jsonl')
    const clock = new FakeClock()
    try {
      const slow = new Watched(clock, clock.now() + 3000)
      const writing = slow.began(/^write /)
      const first = settled(slow.appendLines(f.path, `${'y'.repeat(200_000)}\n`))
      await writing
      const queued = settled(new BoundedFs(clock, clock.now() + 300).appendLines(f.path, 'small\n'))
      clock.advance(300)
      const error = await queued
      assert.ok(error instanceof FilesystemTimeoutError, String(error))
      assert.match(error.message, /^waiting for an earlier append to .*queued\.jsonl did not finish within the 300 ms/)
      clock.advance(2700)
      const firstError = await first
      assert.ok(firstError instanceof FilesystemTimeoutError, String(firstError))
      assert.match(firstError.message, /^write .*queued\.jsonl did not finish within the 3000 ms/)
    } finally {
      await f.drain()
    }
  })

  test('appends to a file that works are not held up: they run in turn, each line whole', async () => {
    const path = join(root, 'plain.jsonl')
    const fs = new BoundedFs(new FakeClock(), new FakeClock().now() + 5000)
    await Promise.all(Array.from({ length: 20 }, (_, i) => fs.appendLines(path, `${JSON.stringify({ i, pad: 'p'.repeat(i * 100) })}\n`)))
    assert.deepEqual(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 20 }, (_, i) => i),
    )
  })

  test('a call that starts after the deadline fails at once, naming the call', async () => {
    const clock = new FakeClock()
    const fs = new BoundedFs(clock, clock.now() - 1)
    await assert.rejects(fs.list(root), /^FilesystemTimeoutError: readdir .* did not finish within the 0 ms left/)
  })
})
