// The entries npm run replay takes: those its filters match, one UTC day of files at a time, oldest first.
import { notReplayable, type StoredDeadLetter } from '../../../shared/dead-letters/store/entry.js'
import type { DeadLetterStore, UnreadableLine } from '../../../shared/dead-letters/store/store.js'

/** `done`: replayed or discarded; `open`: pending, or expired (redrive gave up); `refused`: open, but never to be sent (`why`). */
export type Selected = { entry: StoredDeadLetter; kind: 'done' | 'open' } | { entry: StoredDeadLetter; kind: 'refused'; why: string }

export function classify(entry: StoredDeadLetter, ignoreDeadline = false): Selected {
  if (entry.status === 'replayed' || entry.status === 'discarded') return { entry, kind: 'done' }
  if (entry.failure === 'expired' && !ignoreDeadline)
    return { entry, kind: 'refused', why: 'past its delivery deadline (--ignore-deadline sends it anyway)' }
  const why = notReplayable(entry)
  return why === undefined ? { entry, kind: 'open' } : { entry, kind: 'refused', why }
}

export async function* matchingByDay(
  store: DeadLetterStore,
  f: { reason?: string; keys?: string[] },
  onUnreadable: (u: UnreadableLine) => void,
  ignoreDeadline = false,
): AsyncGenerator<Selected[]> {
  const needle = f.reason?.toLowerCase()
  const keys = f.keys && f.keys.length > 0 ? new Set(f.keys) : undefined
  let day: string | undefined
  let batch: StoredDeadLetter[] = []
  const oldestFirst = (list: StoredDeadLetter[]) =>
    list.sort((a, b) => a.storedAt.localeCompare(b.storedAt)).map((e) => classify(e, ignoreDeadline))
  for await (const { entry, file } of store.entries({ onUnreadable })) {
    if (needle !== undefined && !entry.reason.toLowerCase().includes(needle)) continue
    if (keys && !keys.has(entry.key)) continue
    if (day !== undefined && file.day !== day && batch.length > 0) {
      yield oldestFirst(batch)
      batch = []
    }
    day = file.day
    batch.push(entry)
  }
  if (batch.length > 0) yield oldestFirst(batch)
}
