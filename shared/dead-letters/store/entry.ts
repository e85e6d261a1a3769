// A stored dead letter: the line written once (`EntryLine`: the one format readers take, never guessed at),
// the entry with its markers folded in (`StoredDeadLetter`), and the exact bytes replay and redrive send.
import { z } from 'zod'
import { anyJsonText } from '../json-text.js'

/** Why it failed, lightest first: an entry's failure is the heaviest any report gave; redrive sends transient only. */
export const FAILURE_KINDS = ['transient', 'unknown', 'expired', 'poison'] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]
export const heavier = (a: FailureKind, b: FailureKind) => (FAILURE_KINDS.indexOf(b) > FAILURE_KINDS.indexOf(a) ? b : a)

/** Where an entry came from. Only `bridge-poison` and `async-destination` hold what the bridge received. */
export const SOURCES = ['bridge-poison', 'async-destination', 'unrecognised', 'refused-part'] as const

/** `pending` until replayed, discarded (by a person: final) or expired (redrive gave up: max age). */
export const ENTRY_STATUSES = ['pending', 'replayed', 'discarded', 'expired'] as const
export type EntryStatus = (typeof ENTRY_STATUSES)[number]

const iso = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'must be an ISO time')

/** One line of a dead-letters-*.jsonl file. */
export const entryLineSchema = z
  .object({
    /** The message's identity (entries.ts, keys): a report of the same message maps to it. */
    key: z.string().regex(/^[0-9a-f]{32}$/),
    reason: z.string(),
    source: z.enum(SOURCES),
    failure: z.enum(FAILURE_KINDS),
    ruleId: z.string().optional(),
    messageId: z.string().optional(),
    /** The invocation that failed (the bridge's, or the async invocation's from the destination record). */
    requestId: z.string().optional(),
    /** Asynchronous-destination records only: requestContext.condition, responseContext.functionError. */
    condition: z.string().optional(),
    functionError: z.string().optional(),
    functionArn: z.string().optional(),
    firstFailureAt: iso,
    lastFailureAt: iso,
    /** When the store wrote it, by the store's clock: what retention, redrive and the markers go by. */
    storedAt: iso,
    attempts: z.number().int().min(1),
    /** Something in what arrived was not usable as sent, and what was done instead. */
    note: z.string().optional(),
    /** A message sent in parts whose parts did not all arrive, or did not fit together: `event` holds them. */
    incomplete: z.literal(true).optional(),
    /** The original event (or batch entry) verbatim; its text when `eventText`. */
    event: z.custom<unknown>((v) => v !== undefined, 'Required'),
    wholeEvent: z.literal(true).optional(),
    eventText: z.literal(true).optional(),
    /** The bytes received were not valid UTF-8: `event` is their decoding, so it is never replayed. */
    lossy: z.literal(true).optional(),
    /** failure "expired": how old it was when the bridge gave it up, in ms. */
    ageMs: z.number().int().min(0).optional(),
  })
  .strict()
export type EntryLine = z.infer<typeof entryLineSchema>

/** One report of a failure of the message: its entry line, a later `failed-again`, or redrive's `dead-lettered`. */
export type Report = Pick<EntryLine, 'reason' | 'failure'> & { at: string; requestId: string }

/** An entry with its markers folded in: the latest reason, the heaviest failure, every report, the last turn. */
export interface StoredDeadLetter extends EntryLine {
  status: EntryStatus
  history: Report[]
  turn: number
  replayedAt?: string
  replayRequestId?: string
  discardedAt?: string
  discardNote?: string
  expiredAt?: string
  redrive?: { attempts: number; nextAttemptAt?: string; lastError?: string; alone?: true }
}

/** Why the entry must not be sent to the bridge, or undefined when it may be: only what once was a bridge event, whole. */
export function notReplayable(e: Pick<EntryLine, 'source' | 'incomplete' | 'lossy'>): string | undefined {
  if (e.lossy) return 'not replayable: the bytes received were not valid UTF-8; what is stored is their decoding'
  if (e.incomplete) return 'not replayable: its parts did not all arrive, or did not fit together; discard it'
  if (e.source !== 'bridge-poison' && e.source !== 'async-destination')
    return `not replayable: a ${e.source} entry was never a bridge event; discard it`
  return undefined
}

type Sendable = Pick<EntryLine, 'event' | 'eventText' | 'wholeEvent'>

/** Exactly what was received: a whole event as it came (never unwrapped), batch entries as a batch of them. */
export function replayEvent(entries: Sendable | Sendable[]): Buffer {
  const list = Array.isArray(entries) ? entries : [entries]
  const textOf = (e: Sendable) => (e.eventText ? String(e.event) : anyJsonText(e.event))
  if (list.length === 1 && list[0]!.wholeEvent) return Buffer.from(textOf(list[0]!), 'utf8')
  return Buffer.from(`[${list.map(textOf).join(',')}]`, 'utf8')
}
