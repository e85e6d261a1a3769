// Markers: append-only facts about stored entries (markers-*.jsonl), folded into each entry by readers.
// Nothing is rewritten in place. Every marker's `at` is the store's own clock when it was written, so the
// order of events never depends on a time someone sent in (a hostile failedAt of "~" once sorted after
// every real time and kept an entry from ever counting as replayed).
import type { StoredDeadLetter } from './record.js'

export type DeadLetterMarker =
  /** The same message failed again, reported by another request. `failedAt` is what that request said. */
  | { marker: 'failed-again'; key: string; at: string; requestId: string; attempts: number; reason: string; failedAt?: string }
  /** Delivered by replay or redrive. */
  | { marker: 'replayed'; key: string; at: string; requestId: string }
  /** Given up on by a person (npm run replay -- --discard). */
  | { marker: 'discarded'; key: string; at: string; requestId: string; note?: string }
  /** Redrive sent it and it failed; `nextAttemptAt` null: never again (the bridge dead-lettered it). */
  | { marker: 'redrive-failed'; key: string; at: string; requestId: string; attempt: number; error: string; nextAttemptAt: string | null }
  /** Redrive stopped: DEAD_LETTER_REDRIVE_MAX_AGE passed. */
  | { marker: 'expired'; key: string; at: string; requestId: string; reason: string }

export type MarkerKind = DeadLetterMarker['marker']
const KINDS = new Set<string>(['failed-again', 'replayed', 'discarded', 'redrive-failed', 'expired'])

/** Milliseconds of a stored time, or -Infinity for anything that is not one (old or hostile lines). */
export function timeOf(text: unknown): number {
  if (typeof text !== 'string') return Number.NEGATIVE_INFINITY
  const t = Date.parse(text)
  return Number.isFinite(t) ? t : Number.NEGATIVE_INFINITY
}

/** A marker line as read, or undefined when it is not one (it is then reported, not used). */
export function asMarker(line: unknown): DeadLetterMarker | undefined {
  if (typeof line !== 'object' || line === null) return undefined
  const m = line as Record<string, unknown>
  if (typeof m['marker'] !== 'string' || !KINDS.has(m['marker']) || typeof m['key'] !== 'string' || typeof m['at'] !== 'string')
    return undefined
  if (typeof m['requestId'] !== 'string') return undefined
  return line as DeadLetterMarker
}

/** What the markers say about one key. */
export interface MarkerState {
  /** failed-again reports, one per request: attempts added and the latest failure. */
  reporters: Map<string, { attempts: number; failedAt: number }>
  /** When the latest failure was recorded (the store's clock). */
  lastFailureRecorded: number
  replayed?: { at: number; text: string; requestId: string }
  discarded?: { at: number; text: string }
  expired?: { at: number; text: string }
  redrive: { attempts: number; nextAttemptAt?: number; stopped: boolean; lastError?: string; lastAt: number }
}

export function emptyState(): MarkerState {
  return { reporters: new Map(), lastFailureRecorded: Number.NEGATIVE_INFINITY, redrive: { attempts: 0, stopped: false, lastAt: 0 } }
}

/** Folds one marker into the states, in any order of files: every rule compares the markers' own times. */
export function foldMarker(states: Map<string, MarkerState>, m: DeadLetterMarker): void {
  let s = states.get(m.key)
  if (!s) {
    s = emptyState()
    states.set(m.key, s)
  }
  const at = timeOf(m.at)
  const later = (prev: { at: number } | undefined) => prev === undefined || at > prev.at
  switch (m.marker) {
    case 'failed-again': {
      // One report per request: a retried delivery of the same report (a crash between line and index) counts once.
      if (!s.reporters.has(m.requestId)) {
        const attempts = Number.isSafeInteger(m.attempts) && m.attempts > 0 ? m.attempts : 1
        s.reporters.set(m.requestId, { attempts, failedAt: timeOf(m.failedAt ?? m.at) })
      }
      if (at > s.lastFailureRecorded) s.lastFailureRecorded = at
      break
    }
    case 'replayed':
      if (later(s.replayed)) s.replayed = { at, text: m.at, requestId: m.requestId }
      break
    case 'discarded':
      if (later(s.discarded)) s.discarded = { at, text: m.at }
      break
    case 'expired':
      if (later(s.expired)) s.expired = { at, text: m.at }
      break
    case 'redrive-failed': {
      s.redrive.attempts++
      if (at >= s.redrive.lastAt) {
        s.redrive.lastAt = at
        s.redrive.lastError = typeof m.error === 'string' ? m.error : undefined
        const next = timeOf(m.nextAttemptAt)
        if (m.nextAttemptAt === null) s.redrive.stopped = true
        else if (Number.isFinite(next)) s.redrive.nextAttemptAt = next
      }
      break
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * The entry with its markers folded in. A replay, discard or expiry counts only if it is newer than the
 * latest failure the store recorded; a failure after it makes the entry pending again.
 */
export function foldEntry(entry: StoredDeadLetter, s: MarkerState | undefined): StoredDeadLetter {
  const out: StoredDeadLetter = { ...entry, status: 'pending' }
  if (!s) return out
  let attempts = entry.attempts
  let last = timeOf(entry.lastFailureAt)
  for (const [requestId, r] of s.reporters) {
    // The entry's own request, reported again after a crash between its line and its index: counted once.
    if (requestId === entry.requestId) continue
    attempts += r.attempts
    if (r.failedAt > last) last = r.failedAt
  }
  out.attempts = attempts
  if (Number.isFinite(last) && last > timeOf(entry.lastFailureAt)) out.lastFailureAt = iso(last)
  const failed = Math.max(timeOf(entry.storedAt ?? entry.lastFailureAt), s.lastFailureRecorded)
  const final = [
    s.replayed && { status: 'replayed' as const, ...s.replayed },
    s.discarded && { status: 'discarded' as const, ...s.discarded },
    s.expired && { status: 'expired' as const, ...s.expired },
  ]
    .filter((f) => f !== undefined)
    .filter((f) => f.at >= failed)
    .sort((a, b) => b.at - a.at)[0]
  if (s.replayed && s.replayed.at >= failed) {
    out.replayedAt = s.replayed.text
    out.replayRequestId = s.replayed.requestId
  }
  if (s.discarded && s.discarded.at >= failed) out.discardedAt = s.discarded.text
  if (s.expired && s.expired.at >= failed) out.expiredAt = s.expired.text
  if (final) out.status = final.status
  if (s.redrive.attempts > 0)
    out.redrive = {
      attempts: s.redrive.attempts,
      stopped: s.redrive.stopped,
      ...(s.redrive.nextAttemptAt !== undefined ? { nextAttemptAt: iso(s.redrive.nextAttemptAt) } : {}),
      ...(s.redrive.lastError !== undefined ? { lastError: s.redrive.lastError } : {}),
    }
  return out
}
