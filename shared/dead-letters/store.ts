// The durable dead-letter store: one JSON object per line in *.jsonl files under one directory.
//
//   dead-letters-<date>.jsonl  one line per undeliverable message (a StoredDeadLetter), written once
//   markers-<date>.jsonl       append-only facts about stored entries: failed again, replayed
//
// Whole lines are appended in one write and fsynced, so a crash leaves at most a torn last line, which
// readers skip and the next append terminates first. Nothing is ever rewritten in place: readers fold
// the markers into the entries, and an entry key seen twice (two writers racing) is one entry.
import { mkdir, open, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { StoredDeadLetter } from './record.js'

/** The stored entry's former name, kept for callers not yet moved to StoredDeadLetter. */
export type DeadLetterEntry = StoredDeadLetter

/** A later failure of an already stored message (another request), or a successful replay. */
export type DeadLetterMarker =
  | { marker: 'failed-again'; key: string; at: string; requestId: string; attempts: number; reason: string }
  | { marker: 'replayed'; key: string; at: string; requestId: string }

const ENTRY_FILE = /^dead-letters-.*\.jsonl$/
const MARKER_FILE = /^markers-.*\.jsonl$/

function day(at: Date): string {
  return at.toISOString().slice(0, 10)
}

async function jsonLines(dir: string, pattern: RegExp): Promise<unknown[]> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => pattern.test(n)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: unknown[] = []
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8')
    for (const line of text.split('\n')) {
      if (line === '') continue
      try {
        out.push(JSON.parse(line))
      } catch {
        // A torn line from a crash mid-write: the record it held was not acknowledged, so it is retried.
      }
    }
  }
  return out
}

/** The markers in the store, in file and line order. */
export async function readMarkers(dir: string): Promise<DeadLetterMarker[]> {
  return (await jsonLines(dir, MARKER_FILE)).filter(
    (m): m is DeadLetterMarker =>
      typeof m === 'object' &&
      m !== null &&
      typeof (m as DeadLetterMarker).key === 'string' &&
      typeof (m as DeadLetterMarker).marker === 'string',
  )
}

/**
 * Every entry in the store, in file and line order, with its markers folded in: a later failure raises
 * `attempts` and `lastFailureAt`; a replay sets `replayedAt`, unless the message failed again after it.
 */
export async function readDeadLetters(dir: string): Promise<StoredDeadLetter[]> {
  const byKey = new Map<string, StoredDeadLetter>()
  for (const line of await jsonLines(dir, ENTRY_FILE)) {
    const entry = line as StoredDeadLetter
    if (typeof entry !== 'object' || entry === null || typeof entry.key !== 'string') continue
    if (!byKey.has(entry.key)) byKey.set(entry.key, entry)
  }
  for (const m of await readMarkers(dir)) {
    const entry = byKey.get(m.key)
    if (!entry) continue
    if (m.marker === 'failed-again') {
      entry.attempts += m.attempts
      if (m.at > entry.lastFailureAt) entry.lastFailureAt = m.at
      if (entry.replayedAt !== undefined && m.at >= entry.replayedAt) {
        delete entry.replayedAt
        delete entry.replayRequestId
      }
    } else if (m.marker === 'replayed' && m.at >= entry.lastFailureAt) {
      entry.replayedAt = m.at
      entry.replayRequestId = m.requestId
    }
  }
  return [...byKey.values()]
}

/** Request IDs that already reported each key (the entry's own and its failed-again markers). */
async function reportedBy(dir: string): Promise<Map<string, Set<string>>> {
  const seen = new Map<string, Set<string>>()
  const add = (key: string, requestId: string | undefined) => {
    let s = seen.get(key)
    if (!s) {
      s = new Set()
      seen.set(key, s)
    }
    if (requestId !== undefined) s.add(requestId)
  }
  for (const line of await jsonLines(dir, ENTRY_FILE)) {
    const e = line as StoredDeadLetter
    if (typeof e === 'object' && e !== null && typeof e.key === 'string') add(e.key, e.requestId)
  }
  for (const m of await readMarkers(dir)) if (m.marker === 'failed-again') add(m.key, m.requestId)
  return seen
}

/**
 * Appends whole lines to `path` and fsyncs. If an earlier crash left a torn last line, it is terminated
 * first, so the new lines stay readable. A new file's directory entry is fsynced too.
 */
async function appendLines(dir: string, path: string, lines: string[]): Promise<void> {
  const handle = await open(path, 'a+')
  let created = false
  try {
    const { size } = await handle.stat()
    created = size === 0
    let prefix = ''
    if (size > 0) {
      const last = Buffer.alloc(1)
      await handle.read(last, 0, 1, size - 1)
      if (last[0] !== 0x0a) prefix = '\n'
    }
    await handle.write(prefix + lines.join('\n') + '\n')
    await handle.sync()
  } finally {
    await handle.close()
  }
  if (created) await syncDir(dir)
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } catch {
    // Some file systems refuse fsync on a directory; the file itself is synced.
  } finally {
    await d.close()
  }
}

export interface AppendResult {
  /** New entries written. */
  stored: number
  /** Already stored, but reported by another request: recorded as a failed-again marker. */
  failedAgain: number
  /** Already stored and already reported by this request (a retried delivery): nothing written. */
  duplicates: number
  /** Per input entry, in order. */
  outcomes: Array<'stored' | 'failed-again' | 'duplicate'>
}

/**
 * Stores the entries not already stored. An entry whose key is stored but which comes from a request
 * that has not reported it yet adds a failed-again marker (attempts, last failure), never a second
 * entry. Throws if the store cannot be written, so the caller fails and is retried.
 */
export async function appendDeadLetters(dir: string, entries: StoredDeadLetter[], now = new Date()): Promise<AppendResult> {
  await mkdir(dir, { recursive: true })
  const seen = await reportedBy(dir)
  const fresh: StoredDeadLetter[] = []
  const again: DeadLetterMarker[] = []
  const outcomes: AppendResult['outcomes'] = []
  for (const e of entries) {
    const reporters = seen.get(e.key)
    if (!reporters) {
      seen.set(e.key, new Set(e.requestId !== undefined ? [e.requestId] : []))
      const { replayedAt: _r, replayRequestId: _q, ...line } = e
      fresh.push(line)
      outcomes.push('stored')
    } else if (e.requestId !== undefined && !reporters.has(e.requestId)) {
      reporters.add(e.requestId)
      again.push({
        marker: 'failed-again',
        key: e.key,
        at: e.lastFailureAt,
        requestId: e.requestId,
        attempts: e.attempts,
        reason: e.reason,
      })
      outcomes.push('failed-again')
    } else {
      outcomes.push('duplicate')
    }
  }
  // Entries first: a marker is only meaningful once its entry is durable.
  if (fresh.length > 0)
    await appendLines(
      dir,
      join(dir, `dead-letters-${day(now)}.jsonl`),
      fresh.map((e) => JSON.stringify(e)),
    )
  if (again.length > 0)
    await appendLines(
      dir,
      join(dir, `markers-${day(now)}.jsonl`),
      again.map((m) => JSON.stringify(m)),
    )
  return { stored: fresh.length, failedAgain: again.length, duplicates: outcomes.filter((o) => o === 'duplicate').length, outcomes }
}

/** Records that these entries were delivered by a replay. Durable (fsynced) before it returns. */
export async function markReplayed(dir: string, keys: string[], requestId: string, now = new Date()): Promise<void> {
  if (keys.length === 0) return
  await mkdir(dir, { recursive: true })
  const at = now.toISOString()
  await appendLines(
    dir,
    join(dir, `markers-${day(now)}.jsonl`),
    keys.map((key) => JSON.stringify({ marker: 'replayed', key, at, requestId } satisfies DeadLetterMarker)),
  )
}
