// Automatic redrive (the dead-letter function's timer): entries whose failure was transient (classify.ts)
// are sent back through the bridge, never the poison ones, each with its own exponential backoff kept in
// the markers, until DEAD_LETTER_REDRIVE_MAX_AGE after they were stored; then they are marked expired and
// left to a person. Entries of one failed invocation go together, in their order, as the batch they were;
// if the bridge dead-letters some of them, they are tried one by one to find which (and sent alone from
// then on: the split is stored), and each one the bridge dead-letters alone is marked so, for good. Only
// entries stored in the last max age (plus a day) are read, so a run costs what is recent, not the whole
// store. One run at a time, replay included, holds the lease (lease.ts).
import { messageOf } from '../errors.js'
import { type Deadline, ensureDir } from './bounded-fs.js'
import { failureOf } from './classify.js'
import { dayOf, REDRIVE_LEASE } from './layout.js'
import { holdsLease, releaseLease, takeLease } from './lease.js'
import { type DeadLetterMarker, foldEntry, timeOf } from './markers.js'
import type { StoredDeadLetter } from './record.js'
import { isBatchEntry, replayEvent } from './replay-event.js'
import { notReplayable } from './replayable.js'
import { appendMarkers, readMarkerStates, scanEntries, type UnreadableLine } from './store.js'

/** What redrive needs of the bridge's answer (shared/bridge/summary.ts). */
export interface BridgeAnswer {
  published: number
  deadLettered: number
  duplicates?: number
  filtered?: number
}

/** Sends one event to the bridge and returns its summary; throws when the bridge invocation failed. */
export type BridgeSender = (event: Buffer, requestId: string, timeoutMs: number) => Promise<BridgeAnswer>

export interface RedriveOptions {
  dir: string
  now: Date
  /** When the run must be done (epoch ms): finite, since the lease ends with it. */
  deadline: Deadline
  maxAgeMs: number
  backoffMs: number
  send: BridgeSender
  /** This run's request ID: the markers' requestId, and the prefix of the bridge requests. */
  requestId: string
  writer?: string
  onUnreadable?: (u: UnreadableLine) => void
}

export interface RedriveResult {
  /** Entries sent to the bridge this run. */
  tried: number
  replayed: number
  /** Sent and failed again (transiently): they wait for their next attempt. */
  stillFailing: number
  /** Past the maximum age: marked expired this run. */
  expired: number
  /** Entries the bridge dead-lettered: poison after all, marked dead-lettered, never sent again. */
  deadLettered: number
  /** Due, but not tried this run (time, or the broker still down): tried next run. */
  deferred: number
  /** Pending, transient, waiting for their next attempt. */
  waiting: number
  /** Set when the run did nothing: redrive off, or another run holds the lease. */
  skipped?: string
  /** Set when the run stopped sending before it was done: it lost the lease. */
  stopped?: string
}

const DAY_MS = 24 * 60 * 60 * 1000
/** The longest wait between two attempts of one entry, however many failed. */
export const MAX_BACKOFF_MS = 6 * 60 * 60 * 1000
/** Leave this much of the invocation for writing markers and the summary. */
const RESERVE_MS = 3000
/** A run stops sending after this many invocations in a row failed: the broker is still down. */
const FAILURES_BEFORE_STOPPING = 3
/** What one run holds in memory at most (entries, and their characters), and sends in one invocation at most. */
const MAX_DUE = 5000
const MAX_DUE_CHARS = 32 * 1024 * 1024
const MAX_GROUP = 100

/** When an entry that has failed `attempts` times (counting redrive attempts only) is tried next. */
export function nextAttemptAt(now: number, attempts: number, backoffMs: number): number {
  return now + Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** Math.min(30, Math.max(0, attempts - 1)))
}

export async function redrive(o: RedriveOptions): Promise<RedriveResult> {
  const result: RedriveResult = { tried: 0, replayed: 0, stillFailing: 0, expired: 0, deadLettered: 0, deferred: 0, waiting: 0 }
  if (o.maxAgeMs === 0) return { ...result, skipped: 'DEAD_LETTER_REDRIVE_MAX_AGE=0: redrive is off' }
  if (!Number.isFinite(o.deadline)) throw new Error('redrive needs a finite deadline: its lease ends with it')
  const now = o.now.getTime()
  await ensureDir(o.dir, o.deadline) // a store with no dead letter yet
  const lease = await takeLease(o.dir, o.requestId, o.deadline, now, o.deadline)
  if (!lease.held) return { ...result, skipped: `another run holds ${REDRIVE_LEASE} (${lease.holder}, until ${lease.until})` }
  try {
    await run(o, now, result)
  } finally {
    // The lease ends with this invocation's deadline anyway: releasing it early only lets the next run in
    // sooner, and must not hide why this one failed.
    await releaseLease(o.dir, o.requestId, o.deadline).catch(() => {})
  }
  return result
}

async function run(o: RedriveOptions, now: number, result: RedriveResult): Promise<void> {
  // The run's clock: its `now`, moved on by the time the run has taken (tests give another `now`).
  const started = Date.now()
  const clock = () => now + (Date.now() - started)
  const read = {
    deadline: o.deadline,
    fromDay: dayOf(now - o.maxAgeMs - DAY_MS),
    ...(o.onUnreadable ? { onUnreadable: o.onUnreadable } : {}),
  }
  const states = await readMarkerStates(o.dir, read)
  const due: StoredDeadLetter[] = []
  const expired: DeadLetterMarker[] = []
  const at = new Date(now).toISOString()
  let dueChars = 0
  for await (const { entry, file, chars } of scanEntries(o.dir, read)) {
    if (failureOf(entry) !== 'transient' || notReplayable(entry) !== undefined) continue
    const e = foldEntry(entry, states.get(entry.key))
    if (e.status !== 'pending' || e.redrive?.stopped) continue
    // Age by the store's clock (storedAt), or the file's day for entries stored before it was written.
    const stored = Number.isFinite(timeOf(entry.storedAt)) ? timeOf(entry.storedAt) : timeOf(`${file.day}T00:00:00.000Z`)
    if (now - stored > o.maxAgeMs) {
      expired.push({
        marker: 'expired',
        key: e.key,
        at,
        requestId: o.requestId,
        reason: `not delivered within DEAD_LETTER_REDRIVE_MAX_AGE of being stored`,
      })
      continue
    }
    if (timeOf(e.redrive?.nextAttemptAt) > now) result.waiting++
    else if (due.length < MAX_DUE && dueChars + chars <= MAX_DUE_CHARS) {
      due.push(e)
      dueChars += chars
    } else result.deferred++
  }
  await appendMarkers(o.dir, expired, { now: o.now, deadline: o.deadline, ...(o.writer ? { writer: o.writer } : {}) })
  result.expired = expired.length

  // One group per failed invocation, in the order stored; a whole event goes alone.
  const groups: StoredDeadLetter[][] = []
  const open = new Map<string, StoredDeadLetter[]>()
  // Entries split off their batch by an earlier run go alone.
  const joins = (e: StoredDeadLetter) => isBatchEntry(e) && !e.redrive?.alone
  for (const e of due) {
    const id = e.requestId ?? e.key
    const g = joins(e) ? open.get(id) : undefined
    if (g && g.length < MAX_GROUP) g.push(e)
    else {
      const fresh = [e]
      groups.push(fresh)
      if (joins(e)) open.set(id, fresh)
    }
  }

  let failuresInARow = 0
  let sent = 0
  const writer = o.writer ? { writer: o.writer } : {}
  while (groups.length > 0) {
    const left = o.deadline - Date.now() - RESERVE_MS
    if (left <= 1000 || failuresInARow >= FAILURES_BEFORE_STOPPING) break
    // Another run (replay, or a redrive that took a lease it thought stale) sends now: leave it to that one.
    if (!(await holdsLease(o.dir, o.requestId, o.deadline))) {
      result.stopped = `lost ${REDRIVE_LEASE} to another run after ${sent} invocation${sent === 1 ? '' : 's'}`
      break
    }
    const group = groups.shift()!
    const markers: DeadLetterMarker[] = []
    const mark = new Date(clock()).toISOString()
    sent++
    const requestId = `${o.requestId}-redrive-${sent}`
    let answer: BridgeAnswer | undefined
    let error: string | undefined
    try {
      answer = await o.send(replayEvent(group), requestId, left)
    } catch (err) {
      error = messageOf(err).slice(0, 500)
    }
    const accounted = answer !== undefined && answer.published + (answer.duplicates ?? 0) + (answer.filtered ?? 0) === group.length
    if (answer && answer.deadLettered > 0 && group.length > 1) {
      // Some are poison after all: the bridge stored them; find which by sending each alone, in this run
      // and in later ones (the split is stored, so the batch is not sent whole again).
      const split = group.map((e): DeadLetterMarker => ({ ...base(e, mark, o), marker: 'redrive-split' }))
      await appendMarkers(o.dir, split, { now: new Date(clock()), deadline: o.deadline, ...writer })
      groups.unshift(...group.map((e) => [{ ...e, redrive: { attempts: 0, stopped: false, ...e.redrive, alone: true as const } }]))
      continue
    }
    result.tried += group.length
    if (answer && answer.deadLettered > 0) {
      result.deadLettered++
      markers.push({
        ...base(group[0]!, mark, o),
        marker: 'dead-lettered',
        reason: `the bridge dead-lettered it when redrive sent it (request ${requestId}): poison after all, stored as its own poison entry with its reason`,
      })
      failuresInARow = 0
    } else if (accounted) {
      result.replayed += group.length
      for (const e of group) markers.push({ ...base(e, mark, o), marker: 'replayed' })
      failuresInARow = 0
    } else {
      failuresInARow++
      result.stillFailing += group.length
      const why = error ?? `the bridge accounted for ${answer!.published + (answer!.duplicates ?? 0)} of ${group.length} messages`
      for (const e of group) {
        const attempt = attempts(e)
        const next = new Date(nextAttemptAt(clock(), attempt, o.backoffMs)).toISOString()
        markers.push({ ...base(e, mark, o), marker: 'redrive-failed', attempt, error: why, nextAttemptAt: next })
      }
    }
    await appendMarkers(o.dir, markers, { now: new Date(clock()), deadline: o.deadline, ...writer })
  }
  result.deferred += groups.reduce((n, g) => n + g.length, 0)
}

const base = (e: StoredDeadLetter, at: string, o: RedriveOptions) => ({ key: e.key, at, requestId: o.requestId })
const attempts = (e: StoredDeadLetter) => (e.redrive?.attempts ?? 0) + 1
