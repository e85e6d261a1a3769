// The durable dead-letter store: one JSON object per line in *.jsonl files under one directory.
// Whole lines are appended in one write and fsynced, so a crash leaves at most a torn last line,
// which readers skip. A record already stored (same key) is not written again.
import { createHash } from 'node:crypto'
import { mkdir, open, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface DeadLetterEntry {
  /** Deduplication key: a retried delivery of the same record maps to the same key. */
  key: string
  reason: string
  ruleId?: string
  messageId?: string
  requestId?: string
  /** Where it came from: a poison message from the bridge, or an invocation whose retries ran out. */
  source: 'bridge-poison' | 'async-destination'
  firstFailureAt: string
  lastFailureAt: string
  attempts: number
  /** The original event (or batch entry) verbatim; raw text when it was not JSON. */
  event: unknown
}

export function entryKey(...parts: Array<string | undefined>): string {
  return createHash('sha256').update(parts.map((p) => p ?? '').join('\u0000')).digest('hex').slice(0, 32)
}

/** Stable fingerprint of a raw entry, for records that have no message ID. */
export function fingerprint(raw: unknown): string {
  return createHash('sha256').update(typeof raw === 'string' ? raw : JSON.stringify(raw) ?? 'undefined').digest('hex').slice(0, 32)
}

function fileFor(dir: string, at: Date): string {
  return join(dir, `dead-letters-${at.toISOString().slice(0, 10)}.jsonl`)
}

/** Every entry in the store, in file and line order. Torn lines (from a crash mid-write) are skipped. */
export async function readDeadLetters(dir: string): Promise<DeadLetterEntry[]> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: DeadLetterEntry[] = []
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8')
    for (const line of text.split('\n')) {
      if (line === '') continue
      try {
        const entry = JSON.parse(line) as DeadLetterEntry
        if (typeof entry.key === 'string') out.push(entry)
      } catch {
        // A torn final line from a crash: the record it held was not acknowledged, so it is retried.
      }
    }
  }
  return out
}

/** Appends the entries not already stored. Throws if the store cannot be written, so the caller fails. */
export async function appendDeadLetters(dir: string, entries: DeadLetterEntry[], now = new Date()): Promise<{ stored: number; duplicates: number }> {
  await mkdir(dir, { recursive: true })
  const known = new Set((await readDeadLetters(dir)).map((e) => e.key))
  const fresh: DeadLetterEntry[] = []
  for (const e of entries) {
    if (known.has(e.key)) continue
    known.add(e.key)
    fresh.push(e)
  }
  if (fresh.length > 0) {
    const handle = await open(fileFor(dir, now), 'a')
    try {
      await handle.write(fresh.map((e) => JSON.stringify(e)).join('\n') + '\n')
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
  return { stored: fresh.length, duplicates: entries.length - fresh.length }
}
