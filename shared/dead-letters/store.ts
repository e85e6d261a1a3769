// The durable dead-letter store: plain JSON lines in *.jsonl files under one directory (layout.ts), so jq
// works on it. Appending costs the same into a 1 GB store as into an empty one: it never reads the store.
// Whether a key is stored, and which requests reported it, is one stat each in the key index, which is
// made only after the lines are durable (a crash in between leaves a duplicate line, which readers merge,
// never a key without its entry). Each process appends only to its own files; readers merge them all,
// streaming, and report every line they cannot read instead of skipping it silently.
import { dirname, join } from 'node:path'
import { appendLines, type Deadline, ensureDir, exists, listDir, mkdirExclusive, NO_DEADLINE, syncDir } from './bounded-fs.js'
import { keyDir, PROCESS_WRITER, reporterFile, type StoreFile, storeFileName, storeFiles } from './layout.js'
import { asMarker, type DeadLetterMarker, foldEntry, foldLine, foldMarker, type MarkerState } from './markers.js'
import { readLines } from './read-lines.js'
import { FOLDED_FIELDS, type StoredDeadLetter } from './record.js'

export type { DeadLetterMarker } from './markers.js'

export interface StoreOptions {
  now?: Date
  deadline?: Deadline
  /** Whose files to append to; this process's token by default. */
  writer?: string
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

async function appendToOwnFile(dir: string, file: string, lines: string[], deadline: Deadline): Promise<void> {
  if (lines.length === 0) return
  if (await appendLines(join(dir, file), lines.join('\n') + '\n', deadline)) await syncDir(dir, deadline)
}

/**
 * Marks a key as stored, and by which request, after its line is durable: two mkdirs (no file handle),
 * the prefix directory made only the first time it is missing. Racing writers are harmless.
 */
async function index(dir: string, key: string, requestId: string | undefined, deadline: Deadline): Promise<void> {
  const kd = keyDir(dir, key)
  try {
    await mkdirExclusive(kd, deadline)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await ensureDir(dirname(kd), deadline)
    await mkdirExclusive(kd, deadline)
  }
  await mkdirExclusive(reporterFile(dir, key, requestId), deadline)
}

/**
 * Stores the entries not already stored. An entry whose key is stored but which comes from a request
 * that has not reported it yet adds a failed-again marker (attempts, last failure), never a second
 * entry. Throws if the store cannot be written, so the caller fails and is retried.
 */
export async function appendDeadLetters(dir: string, entries: StoredDeadLetter[], options: StoreOptions = {}): Promise<AppendResult> {
  const now = options.now ?? new Date()
  const deadline = options.deadline ?? NO_DEADLINE
  const writer = options.writer ?? PROCESS_WRITER
  await ensureDir(dir, deadline)
  const storedAt = now.toISOString()
  const known = await Promise.all(
    entries.map(async (e) => {
      if (!(await exists(keyDir(dir, e.key), deadline))) return 'new' as const
      return (await exists(reporterFile(dir, e.key, e.requestId), deadline)) ? ('reported' as const) : ('stored' as const)
    }),
  )
  const fresh: StoredDeadLetter[] = []
  const again: DeadLetterMarker[] = []
  const outcomes: AppendResult['outcomes'] = []
  const seen = new Map<string, Set<string | undefined>>()
  entries.forEach((e, i) => {
    const inCall = seen.get(e.key)
    // Reported by this request already, or stored and unattributable (no request ID): nothing to add.
    const reported = known[i] === 'reported' || (known[i] === 'stored' && e.requestId === undefined)
    if (inCall?.has(e.requestId) || (reported && !inCall)) {
      outcomes.push('duplicate')
      return
    }
    if (!inCall && known[i] === 'new') {
      const line: StoredDeadLetter = { ...e, storedAt }
      for (const f of FOLDED_FIELDS) delete line[f]
      fresh.push(line)
      outcomes.push('stored')
    } else {
      again.push({
        marker: 'failed-again',
        key: e.key,
        at: storedAt,
        requestId: e.requestId ?? 'unknown',
        attempts: e.attempts,
        reason: e.reason,
        failedAt: e.lastFailureAt,
      })
      outcomes.push('failed-again')
    }
    seen.set(e.key, new Set([...(inCall ?? []), e.requestId]))
  })
  // Entries first: a marker is only meaningful once its entry is durable; the index last of all.
  await appendToOwnFile(
    dir,
    storeFileName('dead-letters', now, writer),
    fresh.map((e) => JSON.stringify(e)),
    deadline,
  )
  await appendMarkers(dir, again, { now, deadline, writer })
  await Promise.all([
    ...fresh.map((e) => index(dir, e.key, e.requestId, deadline)),
    ...again.map((m) => index(dir, m.key, m.requestId, deadline)),
  ])
  return { stored: fresh.length, failedAgain: again.length, duplicates: outcomes.filter((o) => o === 'duplicate').length, outcomes }
}

/** Appends markers to this writer's marker file, durable (fsynced) before it returns. */
export async function appendMarkers(dir: string, markers: DeadLetterMarker[], options: StoreOptions = {}): Promise<void> {
  if (markers.length === 0) return
  const now = options.now ?? new Date()
  const deadline = options.deadline ?? NO_DEADLINE
  await ensureDir(dir, deadline)
  await appendToOwnFile(
    dir,
    storeFileName('markers', now, options.writer ?? PROCESS_WRITER),
    markers.map((m) => JSON.stringify(m)),
    deadline,
  )
}

/** Records that these entries were delivered by a replay. */
export async function markReplayed(dir: string, keys: string[], requestId: string, now = new Date()): Promise<void> {
  const at = now.toISOString()
  await appendMarkers(
    dir,
    keys.map((key) => ({ marker: 'replayed', key, at, requestId })),
    { now },
  )
}

/** A line a reader could not use: reported, never skipped silently. */
export interface UnreadableLine {
  file: string
  line: number
  problem: string
}

export interface ReadOptions {
  deadline?: Deadline
  /** Only files written on this UTC day (YYYY-MM-DD) or later. */
  fromDay?: string
  onUnreadable?: (u: UnreadableLine) => void
}

/** The store's files of one kind, by day then name. */
export async function listStoreFiles(dir: string, kind: StoreFile['kind'], options: ReadOptions = {}): Promise<StoreFile[]> {
  const all = storeFiles(dir, await listDir(dir, options.deadline ?? NO_DEADLINE))
  return all.filter((f) => f.kind === kind && (options.fromDay === undefined || f.day >= options.fromDay))
}

/** The JSON values of a store file's lines, streamed; unreadable lines go to onUnreadable. */
export async function* jsonValues(
  file: StoreFile,
  options: ReadOptions = {},
): AsyncGenerator<{ value: unknown; line: number; chars: number }> {
  for await (const l of readLines(file.path, options.deadline ?? NO_DEADLINE)) {
    if (!l.ok) {
      options.onUnreadable?.({ file: file.name, line: l.line, problem: l.problem })
      continue
    }
    try {
      yield { value: JSON.parse(l.text), line: l.line, chars: l.text.length }
    } catch (err) {
      // A torn line from a crash mid-write: the record it held was not acknowledged, so it was retried.
      options.onUnreadable?.({ file: file.name, line: l.line, problem: `not JSON (${(err as Error).message.slice(0, 80)})` })
    }
  }
}

/** What the markers say, per key. */
export async function readMarkerStates(dir: string, options: ReadOptions = {}): Promise<Map<string, MarkerState>> {
  const states = new Map<string, MarkerState>()
  for (const file of await listStoreFiles(dir, 'markers', options)) {
    for await (const { value, line } of jsonValues(file, options)) {
      const m = asMarker(value)
      if (m) foldMarker(states, m)
      else options.onUnreadable?.({ file: file.name, line, problem: 'not a marker' })
    }
  }
  return states
}

const isEntry = (v: unknown): v is StoredDeadLetter =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as StoredDeadLetter).key === 'string' &&
  typeof (v as StoredDeadLetter).reason === 'string' &&
  typeof (v as StoredDeadLetter).source === 'string'

/**
 * Every entry in the store, streamed in file and line order, each key once (the first line of it wins),
 * with `file` the name of the file it is in. Markers are folded in by the caller (markers.ts, foldEntry).
 * A later line for a key already seen goes to `onDuplicateLine`: two writers that raced on a new key
 * both wrote one, and each is a report (markers.ts, foldLine).
 */
export async function* scanEntries(
  dir: string,
  options: ReadOptions & { onDuplicateLine?: (line: StoredDeadLetter) => void } = {},
): AsyncGenerator<{ entry: StoredDeadLetter; file: StoreFile; chars: number }> {
  const seen = new Set<string>()
  for (const file of await listStoreFiles(dir, 'dead-letters', options)) {
    for await (const { value, line, chars } of jsonValues(file, options)) {
      if (!isEntry(value)) {
        options.onUnreadable?.({ file: file.name, line, problem: 'not a dead-letter entry' })
        continue
      }
      if (seen.has(value.key)) {
        options.onDuplicateLine?.(value)
        continue
      }
      seen.add(value.key)
      yield { entry: value, file, chars }
    }
  }
}

/**
 * Every entry with its markers, and any second line of its key, folded in, in file and line order: for
 * tools and tests, not for big stores. Its attempts count every report exactly once.
 */
export async function readDeadLetters(dir: string, options: ReadOptions = {}): Promise<StoredDeadLetter[]> {
  const states = await readMarkerStates(dir, options)
  const entries: StoredDeadLetter[] = []
  for await (const { entry } of scanEntries(dir, { ...options, onDuplicateLine: (line) => foldLine(states, line) })) entries.push(entry)
  return entries.map((e) => foldEntry(e, states.get(e.key)))
}
