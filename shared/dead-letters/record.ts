// The one dead-letter record, and the wire records built from it, each with its zod schema beside it
// (types by z.infer). Used by the bridge (poison messages), the sink (hand-off), the dead-letter function
// (intake), the store and replay.
import { z } from 'zod'

/** JSON's 1e400 parses to Infinity, which z.number() takes: finite() refuses it. */
const num = () => z.number().finite()
/** .int() takes integers past 2^53 - 1, which JSON numbers cannot hold exactly: safe() refuses them. */
const safeInt = () => z.number().int().safe()
/** Any value, but there: z.unknown() alone also takes a missing key. */
const present = () => z.custom<unknown>((v) => v !== undefined, 'Required')

/** One message that cannot be delivered: where it was in its batch, why, and the entry verbatim. */
export const deadLetterSchema = z.object({
  /** Position in the batch. */
  index: num(),
  reason: z.string(),
  ruleId: z.string().optional(),
  messageId: z.string().optional(),
  /** The batch entry verbatim (or the raw text of an event that was not JSON). */
  event: present(),
  /** `event` is the whole event the bridge received, not one entry of a batch. */
  wholeEvent: z.literal(true).optional(),
  /** `event` holds text: what was received was not JSON, or cannot be kept as JSON (storable.ts). */
  eventText: z.literal(true).optional(),
  /**
   * The bytes received were not valid UTF-8: `event` is their decoding, with U+FFFD where they were
   * invalid, not what was received. Such an entry is not replayable (it would publish changed bytes).
   */
  lossy: z.literal(true).optional(),
  /** Past its delivery deadline (docs/rules.md, "Delivery deadlines"): stored for the record, never redriven. */
  failure: z.literal('expired').optional(),
  /** With failure "expired": how old it was when it was given up, in ms. */
  ageMs: num().optional(),
})
export type DeadLetter = z.infer<typeof deadLetterSchema>

/** A dead letter without its event: what a log line or the preview shows. */
export type DeadLetterInfo = Omit<DeadLetter, 'event'>

/** What the bridge sends to the dead-letter function (and what a file: target stores directly). */
export const poisonRecordSchema = z.object({
  kind: z.literal('rocketmq-mqtt-bridge.poison'),
  requestId: z.string(),
  failedAt: z.string(),
  messages: z.array(deadLetterSchema),
})
export type PoisonRecord = z.infer<typeof poisonRecordSchema>

/**
 * One slice of a dead letter too big for one asynchronous invoke. `data` is a slice of the base64 of the
 * UTF-8 JSON text of the message's event (base64: its size in the payload is exactly its length).
 */
export const poisonPartRecordSchema = z.object({
  kind: z.literal('rocketmq-mqtt-bridge.poison-part'),
  requestId: z.string(),
  failedAt: z.string(),
  message: z.object({
    index: num(),
    reason: z.string(),
    ruleId: z.string().optional(),
    messageId: z.string().optional(),
    wholeEvent: z.literal(true).optional(),
    eventText: z.literal(true).optional(),
    lossy: z.literal(true).optional(),
  }),
  part: z.object({
    index: safeInt().min(0),
    count: safeInt().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: safeInt().min(0),
    data: z.string(),
  }),
})
export type PoisonPartRecord = z.infer<typeof poisonPartRecordSchema>

/** Where a stored dead letter came from. */
export const DEAD_LETTER_SOURCES = ['bridge-poison', 'async-destination', 'unrecognised', 'refused-part'] as const
export type DeadLetterSource = (typeof DEAD_LETTER_SOURCES)[number]

/**
 * Why it failed, as far as redrive is concerned: `transient` (the broker was unreachable, an
 * acknowledgement timed out, the connection was lost: worth sending again by itself), `poison` (it can
 * never be delivered as it is), `unknown` (left to a person).
 */
export const FAILURE_KINDS = ['transient', 'poison', 'unknown'] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]

/**
 * Where an entry stands, from its markers (markers.ts): `pending` until it is `replayed` (delivered by
 * replay or redrive), `discarded` (by a person), `expired` (redrive gave up) or `dead-lettered` (redrive
 * sent it and the bridge dead-lettered it: its own poison entry is what is left to act on).
 */
export const ENTRY_STATUSES = ['pending', 'replayed', 'discarded', 'expired', 'dead-lettered'] as const
export type EntryStatus = (typeof ENTRY_STATUSES)[number]

/** A dead letter as the store keeps it: one JSON line in a dead-letters-*.jsonl file. */
export const storedDeadLetterSchema = z.object({
  /** Deduplication key: a retried delivery of the same record maps to the same key. */
  key: z.string(),
  reason: z.string(),
  ruleId: z.string().optional(),
  messageId: z.string().optional(),
  /** The invocation that failed (the bridge's, or the async invocation's from the destination record). */
  requestId: z.string().optional(),
  source: z.enum(DEAD_LETTER_SOURCES),
  failure: z.enum(FAILURE_KINDS).optional(),
  /** Asynchronous-destination records only: requestContext.condition and responseContext.functionError. */
  condition: z.string().optional(),
  functionError: z.string().optional(),
  functionArn: z.string().optional(),
  firstFailureAt: z.string(),
  lastFailureAt: z.string(),
  /** When the store wrote it, by the store's clock: what retention, redrive and replay go by. */
  storedAt: z.string().optional(),
  attempts: num(),
  /** Something in what arrived was not usable as sent (a bad time, a wrong type): what was done instead. */
  note: z.string().optional(),
  /** A message sent in parts whose parts did not all arrive, or did not fit together: `event` holds them. */
  incomplete: z.literal(true).optional(),
  /** The original event (or batch entry) verbatim; raw text when it was not JSON (`eventText`). */
  event: z.unknown(),
  wholeEvent: z.literal(true).optional(),
  eventText: z.literal(true).optional(),
  /** What was received was not valid UTF-8 (see the dead letter's `lossy`): not replayable. */
  lossy: z.literal(true).optional(),
  /** Folded in from markers by the reader; never written in an entry line. */
  replayedAt: z.string().optional(),
  replayRequestId: z.string().optional(),
  discardedAt: z.string().optional(),
  expiredAt: z.string().optional(),
  /** Redrive sent it and the bridge dead-lettered it: stored as the bridge's own poison entry, never sent again. */
  deadLetteredAt: z.string().optional(),
  deadLetteredReason: z.string().optional(),
  status: z.enum(ENTRY_STATUSES).optional(),
  redrive: z
    .object({
      attempts: num(),
      nextAttemptAt: z.string().optional(),
      stopped: z.boolean(),
      lastError: z.string().optional(),
      /** Sent in a batch the bridge dead-lettered part of: from then on it is sent alone. */
      alone: z.literal(true).optional(),
    })
    .optional(),
})
export type StoredDeadLetter = z.infer<typeof storedDeadLetterSchema>

/** The fields the reader folds in from markers: never written in an entry line. */
export const FOLDED_FIELDS = [
  'replayedAt',
  'replayRequestId',
  'discardedAt',
  'expiredAt',
  'deadLetteredAt',
  'deadLetteredReason',
  'status',
  'redrive',
] as const
