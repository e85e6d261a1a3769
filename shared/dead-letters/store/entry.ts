// A stored dead letter: the line written once (`EntryLine`, its zod schema is the one format readers take:
// a line that does not match it is reported with the reason, never guessed at), and the entry as readers
// see it, its markers folded in (`StoredDeadLetter`, markers.ts). Also what may be sent to the bridge again,
// and the exact bytes replay and redrive send for it.
import { z } from 'zod'
import { anyJsonText } from '../json-text.js'

/**
 * Why it failed, in order of weight: an entry's failure is the heaviest any report gave it. `transient`
 * (the broker was unreachable, an acknowledgement timed out, the connection was lost) is the only one
 * redrive sends again by itself; `unknown` and `poison` are left to a person. A kind added here (issue 24's
 * `expired`) is never redriven, since redrive sends `transient` only (redrive.ts, redriven()).
 */
export const FAILURE_KINDS = ['transient', 'unknown', 'poison'] as const
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
  })
  .strict()
export type EntryLine = z.infer<typeof entryLineSchema>

/** One report of a failure of the message: its entry line, a later `failed-again`, or redrive's `dead-lettered`. */
export interface Report {
  at: string
  requestId: string
  reason: string
  failure: FailureKind
}

/**
 * An entry with its markers folded in. `reason` and `failure` are the latest report's reason and the
 * heaviest report's failure; `history` holds every report, oldest first; `turn` is the last turn (turns.ts)
 * a marker names.
 */
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

/**
 * The bytes replay and redrive send for these entries: exactly what was received. A whole event goes as it
 * came (a JSON string stays a JSON string, never unwrapped into a batch); batch entries as a batch of them.
 */
export function replayEvent(entries: Sendable | Sendable[]): Buffer {
  const list = Array.isArray(entries) ? entries : [entries]
  const textOf = (e: Sendable) => (e.eventText ? String(e.event) : anyJsonText(e.event))
  if (list.length === 1 && list[0]!.wholeEvent) return Buffer.from(textOf(list[0]!), 'utf8')
  return Buffer.from(`[${list.map(textOf).join(',')}]`, 'utf8')
}
