// Markers: append-only facts about stored entries (markers-*.jsonl), folded into each entry by readers.
// The fold sorts each key's markers by (`at`, the store's own clock, then their text), so it gives the same
// entry whatever order the files are read in (markers.test.ts checks this with fast-check); a marker read
// twice (carried again after a crash, I8 in store.ts) counts once.
import { z } from 'zod'
import { type EntryLine, FAILURE_KINDS, heavier, type Report, type StoredDeadLetter } from './entry.js'

const base = { key: z.string(), at: z.string(), requestId: z.string() }
/** The turn (turns.ts) under which an action was taken. */
const acted = { ...base, turn: z.number().int().min(1) }

export const markerSchema = z.discriminatedUnion('marker', [
  /** The same message failed again, reported by another request (or by the same entry's line, raced: store.ts). */
  z.object({
    marker: z.literal('failed-again'),
    ...base,
    attempts: z.number().int().min(1),
    reason: z.string(),
    failure: z.enum(FAILURE_KINDS),
    failedAt: z.string(),
  }),
  /** Delivered by replay or redrive. */
  z.object({ marker: z.literal('replayed'), ...acted }),
  /** Given up on by a person (npm run replay -- --discard). Final. */
  z.object({ marker: z.literal('discarded'), ...acted, note: z.string().optional() }),
  /** Redrive sent it and it failed (transiently): its next attempt. */
  z.object({ marker: z.literal('redrive-failed'), ...acted, attempt: z.number().int(), error: z.string(), nextAttemptAt: z.string() }),
  /** Redrive sent it in a batch the bridge dead-lettered part of: from then on it is sent alone. */
  z.object({ marker: z.literal('redrive-split'), ...acted }),
  /** Redrive sent it alone and the bridge dead-lettered it: a poison report, as the bridge's own hand-off makes. */
  z.object({ marker: z.literal('dead-lettered'), ...acted, reason: z.string() }),
  /** Redrive stopped: DEAD_LETTER_REDRIVE_MAX_AGE passed. */
  z.object({ marker: z.literal('expired'), ...acted, reason: z.string() }),
])
export type Marker = z.infer<typeof markerSchema>
/** A marker as a writer hands it to the store, which stamps `at` with its own clock. */
export type NewMarker = Marker extends infer M ? (M extends Marker ? Omit<M, 'at'> : never) : never

/** Another request's report of a stored message (store.ts): a failed-again marker. */
export function reportOf(e: Pick<EntryLine, 'key' | 'requestId' | 'attempts' | 'reason' | 'failure' | 'lastFailureAt'>) {
  const { key, attempts, reason, failure } = e
  return { marker: 'failed-again' as const, key, requestId: e.requestId ?? 'unknown', attempts, reason, failure, failedAt: e.lastFailureAt }
}

/** Milliseconds of a stored time, or -Infinity for anything that is not one. */
export function timeOf(text: unknown): number {
  const t = typeof text === 'string' ? Date.parse(text) : Number.NaN
  return Number.isFinite(t) ? t : Number.NEGATIVE_INFINITY
}

/** Markers by key, as read, in any order. */
export type MarkerStates = Map<string, Marker[]>

export const addMarker = (states: MarkerStates, m: Marker) => void (states.get(m.key)?.push(m) ?? states.set(m.key, [m]))

const ordered = (markers: Marker[]) =>
  markers
    .map((m) => ({ m, t: timeOf(m.at), s: JSON.stringify(m) }))
    .sort((a, b) => a.t - b.t || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
    .filter((x, i, all) => x.s !== all[i - 1]?.s)
    .map((x) => x.m)

/**
 * The entry with its markers folded in. Each request's failure counts once (the first by the store's
 * clock). A replay or an expiry counts only if it is later than the latest failure report; a later report
 * makes the entry pending again. A discard is final: later reports raise `attempts`, and it stays discarded.
 */
export function foldEntry(line: EntryLine, markers: Marker[] = []): StoredDeadLetter {
  const own: Report = { at: line.storedAt, requestId: line.requestId ?? 'unknown', reason: line.reason, failure: line.failure }
  const out: StoredDeadLetter = { ...line, status: 'pending', history: [own], turn: 0 }
  const reporters = new Set([own.requestId])
  let lastReport = timeOf(line.storedAt)
  let last = timeOf(line.lastFailureAt)
  let final: { status: 'replayed' | 'expired' | 'discarded'; at: number } | undefined
  const report = (r: Report) => {
    out.history.push(r)
    out.reason = r.reason
    out.failure = heavier(out.failure, r.failure)
    lastReport = Math.max(lastReport, timeOf(r.at))
    if (final?.status !== 'discarded') final = undefined
  }
  for (const m of ordered(markers)) {
    if ('turn' in m) out.turn = Math.max(out.turn, m.turn)
    const at = timeOf(m.at)
    switch (m.marker) {
      case 'failed-again':
        if (reporters.has(m.requestId)) break
        reporters.add(m.requestId)
        out.attempts += m.attempts
        last = Math.max(last, timeOf(m.failedAt))
        report({ at: m.at, requestId: m.requestId, reason: m.reason, failure: m.failure })
        break
      case 'dead-lettered':
        report({ at: m.at, requestId: m.requestId, reason: m.reason, failure: 'poison' })
        break
      case 'replayed':
      case 'expired':
        if (final?.status === 'discarded' || at < lastReport) break
        final = { status: m.marker, at }
        if (m.marker === 'expired') out.expiredAt = m.at
        else [out.replayedAt, out.replayRequestId] = [m.at, m.requestId]
        break
      case 'discarded':
        if (final?.status !== 'discarded') [final, out.discardedAt, out.discardNote] = [{ status: 'discarded', at }, m.at, m.note]
        break
      case 'redrive-split':
        out.redrive = { attempts: 0, ...out.redrive, alone: true }
        break
      case 'redrive-failed':
        out.redrive = { ...out.redrive, attempts: (out.redrive?.attempts ?? 0) + 1, nextAttemptAt: m.nextAttemptAt, lastError: m.error }
        break
    }
  }
  if (Number.isFinite(last) && last > timeOf(line.lastFailureAt)) out.lastFailureAt = new Date(last).toISOString()
  if (final) out.status = final.status
  if (final?.status !== 'replayed') {
    delete out.replayedAt
    delete out.replayRequestId
  }
  if (final?.status !== 'expired') delete out.expiredAt
  if (out.discardNote === undefined) delete out.discardNote
  return out
}
