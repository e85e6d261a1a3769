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
  /** Redrive sent it and it failed; `nextAttemptAt` null (stores before `dead-lettered`): never again. */
  | { marker: 'redrive-failed'; key: string; at: string; requestId: string; attempt: number; error: string; nextAttemptAt: string | null }
  /** Redrive stopped: DEAD_LETTER_REDRIVE_MAX_AGE passed. */
  | { marker: 'expired'; key: string; at: string; requestId: string; reason: string }
  /** Redrive sent it alone and the bridge dead-lettered it: poison after all, stored as the bridge's own entry. Final. */
  | { marker: 'dead-lettered'; key: string; at: string; requestId: string; reason: string }
  /** Redrive sent it in a batch the bridge dead-lettered part of: from then on it is sent alone. */
  | { marker: 'redrive-split'; key: string; at: string; requestId: string }

const KINDS = new Set<string>(['failed-again', 'replayed', 'discarded', 'redrive-failed', 'expired', 'dead-lettered', 'redrive-split'])

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
  deadLettered?: { at: number; text: string; reason: string }
  redrive: { attempts: number; nextAttemptAt?: number; stopped: boolean; lastError?: string; lastAt: number; alone: boolean }
}

export function emptyState(): MarkerState {
  return {
    reporters: new Map(),
    lastFailureRecorded: Number.NEGATIVE_INFINITY,
    redrive: { attempts: 0, stopped: false, lastAt: 0, alone: false },
  }
}

function stateOf(states: Map<string, MarkerState>, key: string): MarkerState {
  let s = states.get(key)
  if (!s) {
    s = emptyState()
    states.set(key, s)
  }
  return s
}

/** One report of a failure, by one request: a failed-again marker, or a second entry line for the key. */
function report(s: MarkerState, requestId: string, attempts: unknown, failedAt: number, recordedAt: number): void {
  // One report per request: a retried delivery of the same report (a crash between line and index) counts once.
  if (!s.reporters.has(requestId)) {
    const n = typeof attempts === 'number' && Number.isSafeInteger(attempts) && attempts > 0 ? attempts : 1
    s.reporters.set(requestId, { attempts: n, failedAt })
  }
  if (recordedAt > s.lastFailureRecorded) s.lastFailureRecorded = recordedAt
}

/**
 * A second entry line for a key already read: two writers that raced on a new key both wrote one (store.ts).
 * It counts as that request's report, as a failed-again marker would.
 */
export function foldLine(states: Map<string, MarkerState>, line: StoredDeadLetter): void {
  const recorded = timeOf(line.storedAt ?? line.lastFailureAt)
  report(stateOf(states, line.key), line.requestId ?? 'unknown', line.attempts, timeOf(line.lastFailureAt), recorded)
}

/** Folds one marker into the states, in any order of files: every rule compares the markers' own times. */
export function foldMarker(states: Map<string, MarkerState>, m: DeadLetterMarker): void {
  const s = stateOf(states, m.key)
  const at = timeOf(m.at)
  const later = (prev: { at: number } | undefined) => prev === undefined || at > prev.at
  switch (m.marker) {
    case 'failed-again':
      report(s, m.requestId, m.attempts, timeOf(m.failedAt ?? m.at), at)
      break
    case 'replayed':
      if (later(s.replayed)) s.replayed = { at, text: m.at, requestId: m.requestId }
      break
    case 'discarded':
      if (later(s.discarded)) s.discarded = { at, text: m.at }
      break
    case 'expired':
      if (later(s.expired)) s.expired = { at, text: m.at }
      break
    case 'dead-lettered':
      if (later(s.deadLettered)) s.deadLettered = { at, text: m.at, reason: typeof m.reason === 'string' ? m.reason : '' }
      s.redrive.stopped = true
      break
    case 'redrive-split':
      s.redrive.alone = true
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
 * The entry with its markers folded in. A replay or an expiry counts only if it is newer than the latest
 * failure the store recorded: a failure after it makes the entry pending again. A discard or a
 * dead-lettered marker is final: a person gave up on it, or the bridge stored it as its own poison entry,
 * and a later report of the same message does not undo that. The latest final word wins.
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
  const replayed = s.replayed && s.replayed.at >= failed ? s.replayed : undefined
  const expired = s.expired && s.expired.at >= failed ? s.expired : undefined
  if (replayed) {
    out.replayedAt = replayed.text
    out.replayRequestId = replayed.requestId
  }
  if (expired) out.expiredAt = expired.text
  if (s.discarded) out.discardedAt = s.discarded.text
  if (s.deadLettered) {
    out.deadLetteredAt = s.deadLettered.text
    out.deadLetteredReason = s.deadLettered.reason
  }
  const final = [
    replayed && { status: 'replayed' as const, at: replayed.at },
    expired && { status: 'expired' as const, at: expired.at },
    s.discarded && { status: 'discarded' as const, at: s.discarded.at },
    s.deadLettered && { status: 'dead-lettered' as const, at: s.deadLettered.at },
  ]
    .filter((f) => !!f)
    .sort((a, b) => b.at - a.at)[0]
  if (final) out.status = final.status
  if (s.redrive.attempts > 0 || s.redrive.stopped || s.redrive.alone)
    out.redrive = {
      attempts: s.redrive.attempts,
      stopped: s.redrive.stopped,
      ...(s.redrive.nextAttemptAt !== undefined ? { nextAttemptAt: iso(s.redrive.nextAttemptAt) } : {}),
      ...(s.redrive.lastError !== undefined ? { lastError: s.redrive.lastError } : {}),
      ...(s.redrive.alone ? { alone: true as const } : {}),
    }
  return out
}
