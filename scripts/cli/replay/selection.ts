// Which stored entries npm run replay takes: those matching its filters, streamed one UTC day of files at
// a time, oldest first within the day, each with its markers folded in and what replay can do with it.
import { foldEntry } from '../../../shared/dead-letters/markers.js'
import type { StoredDeadLetter } from '../../../shared/dead-letters/record.js'
import { notReplayable } from '../../../shared/dead-letters/replayable.js'
import { readMarkerStates, scanEntries, type UnreadableLine } from '../../../shared/dead-letters/store.js'

export interface Filters {
  dir: string
  reason?: string
  keys?: string[]
}

/**
 * `done`: replayed, discarded, or dead-lettered by redrive (its poison entry is the one to act on);
 * `open`: pending, or expired (redrive gave up); `refused`: open, but never to be sent (`why`).
 */
export type Selected = { entry: StoredDeadLetter; kind: 'done' | 'open' } | { entry: StoredDeadLetter; kind: 'refused'; why: string }

export function classify(entry: StoredDeadLetter): Selected {
  if (entry.status === 'replayed' || entry.status === 'discarded' || entry.status === 'dead-lettered') return { entry, kind: 'done' }
  const why = notReplayable(entry)
  return why === undefined ? { entry, kind: 'open' } : { entry, kind: 'refused', why }
}

export async function* matchingByDay(f: Filters, onUnreadable: (u: UnreadableLine) => void): AsyncGenerator<Selected[]> {
  const states = await readMarkerStates(f.dir, { onUnreadable })
  const needle = f.reason?.toLowerCase()
  const keys = f.keys && f.keys.length > 0 ? new Set(f.keys) : undefined
  let day: string | undefined
  let batch: StoredDeadLetter[] = []
  const oldestFirst = (list: StoredDeadLetter[]) =>
    list.sort((a, b) => (a.storedAt ?? a.firstFailureAt).localeCompare(b.storedAt ?? b.firstFailureAt)).map(classify)
  for await (const { entry, file } of scanEntries(f.dir, { onUnreadable })) {
    if (needle !== undefined && !entry.reason.toLowerCase().includes(needle)) continue
    if (keys && !keys.has(entry.key)) continue
    if (day !== undefined && file.day !== day && batch.length > 0) {
      yield oldestFirst(batch)
      batch = []
    }
    day = file.day
    batch.push(foldEntry(entry, states.get(entry.key)))
  }
  if (batch.length > 0) yield oldestFirst(batch)
}
