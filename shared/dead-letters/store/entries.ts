// What reaches the dead-letter function, as store entries: a bridge poison record, an asynchronous-
// destination record (a member per verdict its error carries), or anything else. Each field is checked on
// its own: one not usable as sent is replaced and noted, so one hostile item never costs its neighbours.
import { parseEvent } from '../../events/parse.js'
import { anyJsonText, arrayItemTexts, storable } from '../json-text.js'
import { readVerdicts, type Verdict, withoutLedger } from '../record.js'
import type { EntryLine, FailureKind } from './entry.js'
import { entryKey, fingerprint, messageKey } from './keys.js'
import type { NewEntry } from './store.js'

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** What was replaced, for the entry's `note` (at most 10 things). */
type Notes = string[]
const noted = (notes: Notes, text: string | undefined) => void (text !== undefined && notes.length < 10 && notes.push(text))
const noteOf = (notes: Notes) => (notes.length > 0 ? { note: notes.join('; ') } : {})

/** Text cut at `max` characters, marked. */
const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s)
/** A value as a note quotes it: its JSON text, cut at 60 characters. */
const shown = (v: unknown) => cut(anyJsonText(v), 60)

/** An ISO time from text or epoch ms; anything else, or more than a day after receipt, is the receipt time. */
function timeField(value: unknown, name: string, received: number, notes: Notes): string {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN
  const usable = Number.isFinite(ms) && ms >= 0 && ms <= received + 24 * 3_600_000
  if (!usable && value !== undefined) noted(notes, `${name} ${shown(value)} is not a usable time: the time it was received is used`)
  return new Date(usable ? ms : received).toISOString()
}

function countField(value: unknown, name: string, [min, max]: [number, number], fallback: number, notes: Notes): number {
  if (value === undefined) return fallback
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value
  noted(notes, `${name} ${shown(value)} is not a whole number from ${min} to ${max}: ${fallback} is used`)
  return fallback
}

function textField(value: unknown, name: string, notes: Notes, max = 2000): string | undefined {
  if (value === undefined || (typeof value === 'string' && value.length <= max)) return value as string | undefined
  noted(notes, typeof value === 'string' ? `${name} was cut at ${max} characters` : `${name} ${shown(value)} is not text: left out`)
  return typeof value === 'string' ? cut(value, max) : undefined
}

/** An item's event as the store keeps it, noting when it had to be kept as text. */
function kept(raw: unknown, rawText: string | undefined, notes: Notes): Pick<EntryLine, 'event' | 'eventText'> {
  const k = storable(raw, rawText)
  noted(notes, k.note)
  return { event: k.event, ...(k.eventText ? { eventText: true as const } : {}) }
}

const optional = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : ({ [k]: v } as { [P in K]: V }))

/** One entry per message of a bridge poison record, each checked on its own. */
export function poisonEntries(
  record: { requestId?: unknown; failedAt?: unknown; messages: readonly unknown[]; kind?: unknown },
  received: number,
): NewEntry[] {
  const shared: Notes = []
  const requestId = textField(record.requestId, 'requestId', shared, 200) ?? 'unknown'
  const at = timeField(record.failedAt, 'failedAt', received, shared)
  return record.messages.map((m, position) => {
    const notes = [...shared]
    const f = isObject(m) ? m : {}
    if (!isObject(m)) noted(notes, `message ${position} of the record is not an object: kept whole as its event`)
    const index = countField(f['index'], 'index', [0, Number.MAX_SAFE_INTEGER], position, notes)
    const ruleId = textField(f['ruleId'], 'ruleId', notes, 200)
    const messageId = textField(f['messageId'], 'messageId', notes, 200)
    const given = isObject(m) ? f['event'] : m
    const event =
      f['eventText'] === true && typeof given === 'string' ? { event: given, eventText: true as const } : kept(given, undefined, notes)
    return {
      key: messageKey(messageId, index, event.event),
      reason: textField(f['reason'], 'reason', notes) ?? 'a poison message (the record gave no reason)',
      ...optional('ruleId', ruleId),
      ...optional('messageId', messageId),
      requestId,
      source: 'bridge-poison' as const,
      // The bridge says which of its dead letters expired; anything else it sends is poison.
      failure: f['failure'] === 'expired' ? ('expired' as const) : ('poison' as const),
      ...(f['failure'] === 'expired' && Number.isSafeInteger(f['ageMs']) && (f['ageMs'] as number) >= 0
        ? { ageMs: f['ageMs'] as number }
        : {}),
      firstFailureAt: at,
      lastFailureAt: at,
      attempts: 1,
      ...noteOf(notes),
      ...event,
      ...(f['wholeEvent'] === true ? { wholeEvent: true as const } : {}),
      ...(f['lossy'] === true ? { lossy: true as const } : {}),
    }
  })
}

/** Function Compute's asynchronous-destination record (docs/platform-facts.md §5), as intake.ts recognises it. */
export interface LooseDestinationRecord {
  timestamp?: unknown
  requestContext: Record<string, unknown> & { requestId: string }
  requestPayload: string
  responseContext?: unknown
  responsePayload?: unknown
}

/** The error the failed function returned: its type, and its whole message (which may carry the verdicts). */
function errorOf(payload: unknown): { type?: string; message?: string } {
  let v = payload
  if (typeof payload === 'string')
    try {
      v = JSON.parse(payload)
    } catch {
      return payload.length > 0 ? { message: payload } : {}
    }
  if (!isObject(v)) return {}
  const { errorType: type, errorMessage: message } = v
  return {
    ...optional('type', typeof type === 'string' ? type.slice(0, 100) : undefined),
    ...optional('message', typeof message === 'string' ? message : undefined),
  }
}

/**
 * Transient only when the bridge's DeliveryError says so (Function Compute may call it plain "Error"); its
 * words before "not delivered" were "not acknowledged by the MQTT broker", as in Function Compute's sample.
 */
function failureOf(e: { type?: string; message?: string }): FailureKind {
  if (e.type === 'DeliveryError') return 'transient'
  const said = e.message !== undefined && /\b\d+ of \d+ messages not (?:delivered|acknowledged by the MQTT broker)\b/.test(e.message)
  return said && (e.type === undefined || e.type === 'Error') ? 'transient' : 'unknown'
}

/** Members the bridge had done with: delivered (now or by an earlier attempt), filtered on purpose, or stored as poison. */
const DONE: ReadonlySet<Verdict> = new Set(['published', 'duplicate', 'filtered', 'expired', 'dead-letter'])

/** The entries of a failed invocation's event, each member by its verdict; without verdicts, every member, noted. */
export function destinationEntries(record: LooseDestinationRecord, received: number): NewEntry[] {
  const notes: Notes = []
  const ctx = record.requestContext
  const response = isObject(record.responseContext) ? record.responseContext : {}
  const condition = textField(ctx['condition'], 'requestContext.condition', notes, 200)
  const functionError = textField(response['functionError'], 'responseContext.functionError', notes, 200)
  const attempts = countField(ctx['approximateInvokeCount'], 'requestContext.approximateInvokeCount', [1, 1000], 1, notes)
  const at = timeField(record.timestamp, 'timestamp', received, notes)
  const error = errorOf(record.responsePayload)
  const said = error.message === undefined ? '' : `: ${withoutLedger(error.message).slice(0, 500)}`
  const reason = `asynchronous invocation failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${[condition, functionError].filter(Boolean).join(', ') || 'no condition given'}${said}`
  const common = {
    reason,
    requestId: ctx.requestId,
    source: 'async-destination' as const,
    failure: failureOf(error),
    ...optional('condition', condition),
    ...optional('functionError', functionError),
    ...optional('functionArn', textField(ctx['functionArn'], 'requestContext.functionArn', notes, 300)),
    firstFailureAt: at,
    lastFailureAt: at,
    attempts,
  }
  const text = record.requestPayload
  const parsed = parseEvent(text)
  const given = error.message === undefined ? undefined : readVerdicts(error.message)
  const verdicts = given?.length === parsed.received ? given : undefined
  if (!verdicts)
    noted(
      notes,
      given
        ? `the bridge's verdicts name ${given.length} messages, the event holds ${parsed.received}: every message of the batch is stored`
        : "the bridge's error gives no verdict per message (Function Compute ended the invocation, or the error is not the bridge's): every message of the batch is stored",
    )
  type Item = { index: number; messageId: string | undefined; raw: unknown; poison?: { reason: string; lossy?: true } }
  const items: Item[] = [
    ...parsed.messages.map((m) => ({ index: m.index, messageId: m.messageId, raw: m.raw })),
    ...parsed.poison.map((p) => ({ index: p.index, messageId: p.messageId, raw: p.event, poison: p })),
  ].sort((a, b) => a.index - b.index)
  const entry = (item: Item | undefined, event: Pick<EntryLine, 'event' | 'eventText'>, n: Notes, whole: boolean): NewEntry[] => {
    const verdict = verdicts?.[item?.index ?? 0]
    if (verdict !== undefined && DONE.has(verdict)) return []
    return [
      {
        ...common,
        ...(verdict === 'not-handed-off'
          ? { reason: `${reason}; the bridge dead-lettered it, but its hand-off failed`, failure: 'poison' as const }
          : {}),
        ...(verdict === 'failed' ? { failure: 'transient' as const } : {}),
        ...(verdict === undefined && item?.poison ? asPoison(reason, item.poison) : {}),
        key: messageKey(item?.messageId, item?.index ?? 0, event.event),
        ...optional('messageId', item?.messageId),
        ...noteOf(n),
        ...event,
        ...(whole ? { wholeEvent: true as const } : {}),
      },
    ]
  }
  // Not a batch (not JSON, a JSON string, one CloudEvent, an empty array): the event is kept whole, so
  // replay sends exactly what was received (a JSON string is never unwrapped into a batch).
  if (parsed.shape === 'unparsable') {
    const notJson = parsed.poison[0]?.reason.startsWith('event is not JSON') ?? true
    return entry(items[0], notJson ? { event: text, eventText: true } : kept(parsed.poison[0]!.event, text, notes), notes, true)
  }
  if (parsed.received === 0) return entry(undefined, { event: [] }, notes, true)
  if (parsed.shape === 'event-driven' || !text.trimStart().startsWith('['))
    return entry(items[0], kept(items[0]?.raw, text, notes), notes, true)
  let texts: string[] | undefined
  return items.flatMap((m) => {
    const n = [...notes]
    // Only an item that cannot stay JSON needs its exact text: cut from the payload then, not before.
    const k = storable(m.raw)
    if (k.eventText) texts ??= arrayItemTexts(text)
    return entry(m, k.eventText ? kept(m.raw, texts?.[m.index], n) : { event: k.event }, n, false)
  })
}

/** A message the bridge's parser refuses was dead-lettered by the bridge itself: never redriven. */
function asPoison(reason: string, p: { reason: string; lossy?: true }): Pick<EntryLine, 'reason' | 'failure' | 'lossy'> {
  const own = cut(p.reason, 500)
  return { reason: `${reason}; the message itself is poison: ${own}`, failure: 'poison', ...(p.lossy ? { lossy: true } : {}) }
}

const UNRECOGNISED =
  'the dead-letter function received an event that is neither an asynchronous-destination record nor a bridge poison record; stored as received'

/** An event stored whole, as it came: none of the records above, or a part parts.ts refused (`refusedWhy`). */
export function wholeEntry(value: unknown, text: string | undefined, requestId: string, received: number, refusedWhy?: string): NewEntry {
  const notes: Notes = []
  const event = text !== undefined && value === text ? { event: text, eventText: true as const } : kept(value, text, notes)
  const source = refusedWhy === undefined ? 'unrecognised' : 'refused-part'
  const failed = refusedWhy !== undefined && isObject(value) ? textField(value['requestId'], 'requestId', notes, 200) : undefined
  const at = new Date(received).toISOString()
  return {
    key: entryKey(source, fingerprint(text ?? event.event)),
    reason: refusedWhy === undefined ? UNRECOGNISED : `a part of an oversized dead letter was refused: ${refusedWhy}`,
    source,
    requestId: failed ?? requestId,
    failure: 'unknown',
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 1,
    ...noteOf(notes),
    ...event,
    wholeEvent: true,
  }
}
