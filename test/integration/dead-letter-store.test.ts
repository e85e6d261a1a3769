// The dead-letter store at scale and under concurrency, on a real file system, each writer in its own
// process (test/helpers/dead-letter-writer.ts) as each Function Compute instance is: appending into a
// store of more than 1 GB within the function's memory, and several writers at once.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const WRITER = join(root, 'test/helpers/dead-letter-writer.ts')
const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

interface Written {
  stored: number
  failedAgain: number
  duplicates: number
  ms: number
  maxRssMb: number
}

/** Writers started together: each says "ready", and all are told to go at once (a barrier, not a clock). */
async function writersAtOnce(dir: string, specs: Array<Record<string, unknown>>): Promise<Written[]> {
  const children = specs.map((spec) =>
    spawn(process.execPath, ['--import', 'tsx', WRITER, dir, JSON.stringify({ ...spec, barrier: true })], { cwd: root }),
  )
  const outputs = children.map((c) => {
    let out = ''
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    return {
      ready: new Promise<void>((resolve) => c.stdout.on('data', () => out.includes('ready') && resolve())),
      done: new Promise<string>((resolve, reject) =>
        c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer exited ${code}`)))),
      ),
    }
  })
  await Promise.all(outputs.map((o) => o.ready))
  for (const c of children) c.stdin.end('go\n')
  return Promise.all(outputs.map(async (o) => JSON.parse((await o.done).trim().split('\n').at(-1)!) as Written))
}

async function writer(dir: string, spec: Record<string, unknown>, nodeArgs: string[] = []): Promise<Written> {
  const { stdout } = await run(process.execPath, [...nodeArgs, '--import', 'tsx', WRITER, dir, JSON.stringify(spec)], {
    cwd: root,
    maxBuffer: 1024 * 1024,
  })
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Written
}

/** More than 1 GiB of entry lines in one day file, written directly: the store a busy year leaves. */
function bigStore(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'dl-big-'))
  dirs.push(dir)
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < 1024 * 1024; i++) {
    const line = `${JSON.stringify({
      key: (i.toString(16) + 'f'.repeat(32)).slice(0, 32),
      reason: 'qoslevel: must be 0, 1 or 2',
      source: 'bridge-poison',
      failure: 'poison',
      firstFailureAt: '2024-01-01T00:00:00.000Z',
      lastFailureAt: '2024-01-01T00:00:00.000Z',
      storedAt: '2024-01-01T00:00:00.000Z',
      attempts: 1,
      event: { data: { topic: 't', body: 'p'.repeat(800) } },
    })}\n`
    lines.push(line)
    size += Buffer.byteLength(line)
  }
  const chunk = Buffer.from(lines.join(''))
  const fd = openSync(join(dir, 'dead-letters-2024-01-01-bulk.jsonl'), 'w')
  try {
    for (let written = 0; written < bytes; written += chunk.length) writeSync(fd, chunk)
  } finally {
    closeSync(fd)
  }
  return dir
}

describe('dead-letter store at scale', () => {
  test('one record stored into a store of more than 1 GB, by a process held to 256 MB of heap', async (t) => {
    const dir = bigStore(1024 * 1024 * 1024 + 1)
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
    assert.ok(bytes > 1024 * 1024 * 1024, `${bytes} bytes`)
    const spec = { requestId: 'req-big', ids: ['BIG-STORE-1'], batch: 1 }
    const first = await writer(dir, spec, ['--max-old-space-size=256'])
    assert.deepEqual([first.stored, first.duplicates], [1, 0])
    assert.ok(first.maxRssMb < 256, `peak resident memory ${first.maxRssMb} MB, within the function's 256 MB`)
    t.diagnostic(`store of ${(bytes / 2 ** 30).toFixed(2)} GiB: one record stored, peak RSS ${first.maxRssMb} MB`)
    // Deduplication still works, without reading the gigabyte.
    const again = await writer(dir, spec, ['--max-old-space-size=256'])
    assert.deepEqual([again.stored, again.duplicates], [0, 1])
    const own = readdirSync(dir).filter((f) => f.startsWith('dead-letters-') && !f.includes('bulk'))
    assert.equal(own.length, 1, 'the new entry went to its writer’s own file')
    const line = JSON.parse(readFileSync(join(dir, own[0]!), 'utf8').trim()) as { messageId: string }
    assert.equal(line.messageId, 'BIG-STORE-1')
  })

  test('four processes appending at once: every line intact, every entry found once, every report counted', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-concurrent-'))
    dirs.push(dir)
    const shared = Array.from({ length: 100 }, (_, i) => `SHARED-${i}`)
    // All four start together (once each process is up), so they race on the same new keys.
    const specs = [0, 1, 2, 3].map((w) => ({
      requestId: `req-${w}`,
      // Each writer's own messages with the shared ones mixed in, in small batches, so the appends interleave.
      ids: Array.from({ length: 300 }, (_, i) => `W${w}-${i}`).flatMap((id, i) => (i % 3 === 0 ? [shared[i / 3]!, id] : [id])),
      batch: 7,
      body: 'b'.repeat(3000),
    }))
    const results = await writersAtOnce(dir, specs)
    const stored = results.reduce((n, r) => n + r.stored, 0)
    // Each report is stored or recorded as failed-again, once: 300 own and 100 shared messages per writer.
    assert.equal(stored + results.reduce((n, r) => n + r.failedAgain, 0), 4 * 400)
    assert.equal(
      results.reduce((n, r) => n + r.duplicates, 0),
      0,
    )
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'))
    assert.equal(files.filter((f) => f.startsWith('dead-letters-')).length, 4, 'one entry file per writer')
    let entryLines = 0
    for (const f of files)
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (line === '') continue
        if (f.startsWith('dead-letters-')) entryLines++
        assert.doesNotThrow(() => JSON.parse(line), `${f}: a broken line`)
      }
    assert.equal(entryLines, stored, 'one line per entry stored (two when two writers raced on a key)')
    const unreadable: unknown[] = []
    const entries = await readDeadLetters(dir, { onUnreadable: (u) => void unreadable.push(u) })
    assert.deepEqual(unreadable, [])
    const ids = entries.map((e) => e.messageId!)
    assert.equal(new Set(ids).size, ids.length, 'every entry once')
    assert.equal(ids.length, 4 * 300 + 100)
    // Every report counts, also when two writers raced on a new key and both wrote its line.
    const attempts = (prefix: string) => [...new Set(entries.filter((e) => e.messageId!.startsWith(prefix)).map((e) => e.attempts))]
    assert.deepEqual(attempts('SHARED-'), [4], 'four writers reported each shared message')
    assert.deepEqual(attempts('W'), [1])
    t.diagnostic(`${stored - ids.length} of 100 shared messages were stored twice by racing writers; readers counted both reports`)
  })
})
