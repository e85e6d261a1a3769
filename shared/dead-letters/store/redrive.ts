// Automatic redrive (the timer; docs/operations.md, "Redrive"): pending transient entries go back through the
// bridge with exponential backoff until DEAD_LETTER_REDRIVE_MAX_AGE after their latest failure, then expire. One
// failed invocation's entries go together as the batch they were; a batch the bridge dead-letters part of is split
// and sent one by one. Only the last max age (plus a day) is read, and what its failures name (I8 in store.ts).
import { messageOf } from '../../errors.js'
import type { BridgeAnswer } from '../../fc/bridge-answer.js'
import { type EntryStatus, type FailureKind, notReplayable, replayEvent, type StoredDeadLetter } from './entry.js'
import { type NewMarker, timeOf } from './markers.js'
import { type DeadLetterStore, dayOf, type UnreadableLine } from './store.js'

/** Sends one event to the bridge and returns its answer; throws when the bridge invocation failed. */
export type BridgeSender = (event: Buffer, requestId: string, timeoutMs: number) => Promise<BridgeAnswer>

/** The failures redrive sends again by itself: transient ones only. Every other kind is left to a person. */
export const redriven = (failure: FailureKind) => failure === 'transient'

export interface RedriveOptions {
  maxAgeMs: number
  backoffMs: number
  send: BridgeSender
  /** This run's request ID: its turns' holder, its markers' requestId, the prefix of the bridge requests. */
  requestId: string
  onUnreadable?: (u: UnreadableLine) => void
}

/** What a run did (docs/operations.md, "Redrive"); `deferred`: due but not tried this run, tried next run. */
export const noRedrive = () => ({
  ...{ tried: 0, replayed: 0, stillFailing: 0, expired: 0, pastDeadline: 0 },
  ...{ deadLettered: 0, deferred: 0, waiting: 0 },
})
/** `skipped`: set when the run did nothing (redrive is off). */
export type RedriveResult = ReturnType<typeof noRedrive> & { skipped?: string }

const DAY_MS = 24 * 60 * 60 * 1000
/** The longest wait between two attempts of one entry, however many failed. */
export const MAX_BACKOFF_MS = 6 * 60 * 60 * 1000
/** Left of the invocation for the markers and the summary; in a row, failures that mean the broker is still down. */
const RESERVE_MS = 3000
const FAILURES_BEFORE_STOPPING = 3
/** What one run holds in memory at most (entries, their characters), and sends in one invocation at most. */
const MAX_DUE = 5000
const MAX_DUE_CHARS = 32 * 1024 * 1024
const MAX_GROUP = 100
/**
 * Expired entries one run takes turns on at most, within half its time: each turn is a few NAS calls, and a store
 * full of them (a long outage) would spend every run at its deadline before marking or sending any. Next runs do the rest.
 */
const MAX_EXPIRED = 1000

/** When an entry that has failed `attempts` times (redrive attempts only) is tried next. */
export const nextAttemptAt = (now: number, attempts: number, backoffMs: number): number =>
  now + Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** Math.min(30, Math.max(0, attempts - 1)))

/** Expires `old` (past the max age) under their turns, MAX_GROUP at a time (a take reads the markers at most once,
 * I5), taking turns only until `stopAt`; `untried`: left for the next run. */
async function expireOld(store: DeadLetterStore, old: StoredDeadLetter[], holder: string, fromDay: string, stopAt: number) {
  const held: Array<StoredDeadLetter & { turn: number }> = []
  let tried = 0
  for (; tried < old.length && store.now() < stopAt; tried += MAX_GROUP)
    held.push(...(await store.take(old.slice(tried, tried + MAX_GROUP), holder, store.fs.deadline, fromDay)).held)
  tried = Math.min(tried, old.length)
  const reason = 'not delivered within DEAD_LETTER_REDRIVE_MAX_AGE of its latest failure'
  await store.mark(held.map((e) => ({ marker: 'expired', key: e.key, requestId: holder, turn: e.turn, reason })))
  for (const e of held) await store.endTurn(e.key, e.turn, 'expired')
  return { expired: held.length, untried: old.length - tried }
}

/** One redrive run against `store`, whose deadline (finite: its turns end with it) and clock are the run's. */
export async function redrive(store: DeadLetterStore, o: RedriveOptions): Promise<RedriveResult> {
  const result = noRedrive()
  if (o.maxAgeMs === 0) return { ...result, skipped: 'DEAD_LETTER_REDRIVE_MAX_AGE=0: redrive is off' }
  const deadline = store.fs.deadline
  if (!Number.isFinite(deadline)) throw new Error('redrive needs a finite deadline: its turns end with it')
  const now = store.now()
  const due: StoredDeadLetter[] = []
  const old: StoredDeadLetter[] = []
  let dueChars = 0
  const read = { fromDay: dayOf(now - o.maxAgeMs - DAY_MS), ...(o.onUnreadable ? { onUnreadable: o.onUnreadable } : {}) }
  for await (const { entry: e, chars } of store.entries(read)) {
    if (!redriven(e.failure) || e.status !== 'pending' || notReplayable(e) !== undefined) continue
    // From its latest failure: one RocketMQ delivered again, days after its entry was stored, is redriven anew.
    if (now - Math.max(...e.history.map((r) => timeOf(r.at))) > o.maxAgeMs) {
      if (old.length < MAX_EXPIRED) old.push(e)
      else result.deferred++
    } else if (timeOf(e.redrive?.nextAttemptAt) > now) result.waiting++
    else if (due.length < MAX_DUE && dueChars + chars <= MAX_DUE_CHARS) {
      due.push(e)
      dueChars += chars
    } else result.deferred++
  }
  const expiring = await expireOld(store, old, o.requestId, read.fromDay, now + (deadline - now - RESERVE_MS) / 2)
  result.expired = expiring.expired
  result.deferred += expiring.untried

  // One group per failed invocation, in the order stored; a whole event, or one split off its batch, goes alone. Sorted
  // by storedAt (stable: a batch keeps its order), not files' day-and-writer order: a message group's older batch goes first.
  due.sort((a, b) => timeOf(a.storedAt) - timeOf(b.storedAt))
  const groups: StoredDeadLetter[][] = []
  const open = new Map<string, StoredDeadLetter[]>()
  for (const e of due) {
    const joins = !e.wholeEvent && !e.redrive?.alone
    const g = joins ? open.get(e.requestId ?? e.key) : undefined
    if (g && g.length < MAX_GROUP) g.push(e)
    else {
      groups.push([e])
      if (joins) open.set(e.requestId ?? e.key, groups.at(-1)!)
    }
  }

  let failuresInARow = 0
  let sent = 0
  while (groups.length > 0) {
    const left = deadline - store.now() - RESERVE_MS
    if (left <= 1000 || failuresInARow >= FAILURES_BEFORE_STOPPING) break
    const taken = await store.take(groups.shift()!, o.requestId, deadline, read.fromDay)
    result.deferred += taken.busy.length
    const group = taken.held
    if (group.length === 0) continue
    const requestId = `${o.requestId}-redrive-${++sent}`
    let answer: BridgeAnswer | undefined
    let error: string | undefined
    try {
      answer = await o.send(replayEvent(group), requestId, left)
    } catch (err) {
      error = messageOf(err).slice(0, 500)
    }
    const base = (e: (typeof group)[number]) => ({ key: e.key, requestId: o.requestId, turn: e.turn })
    const markers: NewMarker[] = []
    let status: EntryStatus = 'pending'
    const expired = answer?.expired ?? 0
    if (answer && answer.deadLettered + expired > 0 && group.length > 1) {
      // Some are poison after all, or past their deadline: find which by sending each alone, in this run or later ones.
      await store.mark(group.map((e) => ({ ...base(e), marker: 'redrive-split' })))
      for (const e of group) await store.endTurn(e.key, e.turn, 'pending')
      groups.unshift(...group.map((e) => [{ ...e, redrive: { attempts: 0, ...e.redrive, alone: true as const } }]))
      continue
    }
    result.tried += group.length
    if (answer && expired > 0) {
      // The bridge found it past its delivery deadline (docs/rules.md, "Delivery deadlines"): never sent again.
      result.pastDeadline++
      const reason = `past its delivery deadline when redrive sent it (request ${requestId}): not published, never redriven`
      markers.push({ ...base(group[0]!), marker: 'expired', reason })
      status = 'expired'
      failuresInARow = 0
    } else if (answer && answer.deadLettered > 0) {
      result.deadLettered++
      const reason = `the bridge dead-lettered it when redrive sent it (request ${requestId}): poison after all`
      markers.push({ ...base(group[0]!), marker: 'dead-lettered', reason })
      failuresInARow = 0
    } else if (answer && answer.published + (answer.duplicates ?? 0) + (answer.filtered ?? 0) === group.length) {
      result.replayed += group.length
      for (const e of group) markers.push({ ...base(e), marker: 'replayed' })
      status = 'replayed'
      failuresInARow = 0
    } else {
      failuresInARow++
      result.stillFailing += group.length
      const why = error ?? `the bridge accounted for ${answer!.published + (answer!.duplicates ?? 0)} of ${group.length} messages`
      for (const e of group) {
        const attempt = (e.redrive?.attempts ?? 0) + 1
        const next = new Date(nextAttemptAt(store.now(), attempt, o.backoffMs)).toISOString()
        markers.push({ ...base(e), marker: 'redrive-failed', attempt, error: why, nextAttemptAt: next })
      }
    }
    await store.mark(markers)
    for (const e of group) await store.endTurn(e.key, e.turn, status)
  }
  result.deferred += groups.reduce((n, g) => n + g.length, 0)
  return result
}
