// What reaches the dead-letter function, turned into store entries: a bridge poison record, a Function
// Compute asynchronous-destination record (one entry per message of the failed event), or anything else.
// Each item is checked on its own (fields.ts, storable.ts): a hostile item is kept as text with a note,
// and its neighbours are stored as usual.
import { parseEvent } from '../events/parse.js'
import { destinationFailure } from './classify.js'
import { countField, isObject, Notes, textField, timeField } from './fields.js'
import { arrayItemTexts } from './json-text.js'
import { destinationKey, entryKey, fingerprint, poisonKey } from './keys.js'
import type { StoredDeadLetter } from './record.js'
import { storable } from './storable.js'

/** An item's event as the store keeps it, with the note when it had to be kept as text. */
function keptEvent(raw: unknown, rawText: string | undefined, notes: Notes): Pick<StoredDeadLetter, 'event' | 'eventText'> {
  const kept = storable(raw, rawText)
  if (kept.note !== undefined) notes.add(kept.note)
  return { event: kept.event, ...(kept.eventText ? { eventText: true as const } : {}) }
}

/**
 * One entry per message of a bridge poison record (`{kind, requestId, failedAt, messages}`), each
 * message checked on its own. The bridge's own records pass unchanged; hostile ones lose only the bad field.
 */
export function poisonEntries(
  record: { requestId?: unknown; failedAt?: unknown; messages: readonly unknown[]; [field: string]: unknown },
  receivedAt: Date,
): StoredDeadLetter[] {
  const shared = new Notes()
  const requestId = textField(record.requestId, 'requestId', shared, 200) ?? 'unknown'
  const at = timeField(record.failedAt, 'failedAt', receivedAt, shared)
  return record.messages.map((m, position) => {
    const notes = shared.with()
    const fields = isObject(m) ? m : {}
    if (!isObject(m)) notes.add(`message ${position} of the record is not an object: kept whole as its event`)
    const index = countField(fields['index'], 'index', 0, Number.MAX_SAFE_INTEGER, position, notes)
    const reason = textField(fields['reason'], 'reason', notes) ?? 'a poison message (the record gave no reason)'
    const ruleId = textField(fields['ruleId'], 'ruleId', notes, 200)
    const messageId = textField(fields['messageId'], 'messageId', notes, 200)
    const given = isObject(m) ? fields['event'] : m
    const asText = fields['eventText'] === true && typeof given === 'string'
    const event = asText ? { event: given, eventText: true as const } : keptEvent(given, undefined, notes)
    return {
      key: poisonKey({ ruleId, messageId, index, event: event.event }),
      reason,
      ...(ruleId !== undefined ? { ruleId } : {}),
      ...(messageId !== undefined ? { messageId } : {}),
      requestId,
      source: 'bridge-poison' as const,
      failure: 'poison' as const,
      firstFailureAt: at,
      lastFailureAt: at,
      attempts: 1,
      ...notes.field(),
      ...event,
      ...(fields['wholeEvent'] === true ? { wholeEvent: true as const } : {}),
      ...(fields['lossy'] === true ? { lossy: true as const } : {}),
    }
  })
}

/** The error the failed function returned, when the destination record carries one. */
function errorOf(responsePayload: unknown): { type?: string; message?: string } | undefined {
  let value = responsePayload
  if (typeof responsePayload === 'string') {
    try {
      value = JSON.parse(responsePayload)
    } catch {
      return responsePayload.length > 0 ? { message: responsePayload.slice(0, 500) } : undefined
    }
  }
  if (!isObject(value)) return undefined
  const message = typeof value['errorMessage'] === 'string' ? value['errorMessage'].slice(0, 500) : undefined
  const type = typeof value['errorType'] === 'string' ? value['errorType'].slice(0, 100) : undefined
  return message === undefined && type === undefined ? undefined : { ...(type ? { type } : {}), ...(message ? { message } : {}) }
}

/**
 * Function Compute's asynchronous-destination record for an invocation whose retries ran out
 * (docs/platform-facts.md §5): what destinationEntries needs of it, as intake.ts recognises it. The rest
 * is checked field by field here, so a field of another type costs a note, not the record.
 */
export interface LooseDestinationRecord {
  timestamp?: unknown
  requestContext: Record<string, unknown> & { requestId: string }
  requestPayload: string
  responseContext?: unknown
  responsePayload?: unknown
}

/** One entry per message of the failed invocation's event, keyed by its request, message ID and content. */
export function destinationEntries(record: LooseDestinationRecord, receivedAt: Date): StoredDeadLetter[] {
  const notes = new Notes()
  const ctx = record.requestContext
  const response = isObject(record.responseContext) ? record.responseContext : {}
  const condition = textField(ctx['condition'], 'requestContext.condition', notes, 200)
  const functionError = textField(response['functionError'], 'responseContext.functionError', notes, 200)
  const functionArn = textField(ctx['functionArn'], 'requestContext.functionArn', notes, 300)
  const attempts = countField(ctx['approximateInvokeCount'], 'requestContext.approximateInvokeCount', 1, 1000, 1, notes)
  const at = timeField(record.timestamp, 'timestamp', receivedAt, notes)
  const error = errorOf(record.responsePayload)
  const reason = `asynchronous invocation failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${[condition, functionError].filter(Boolean).join(', ') || 'no condition given'}${error?.message ? `: ${error.message}` : ''}`
  const common = {
    reason,
    requestId: ctx.requestId,
    source: 'async-destination' as const,
    failure: destinationFailure(error),
    ...(condition !== undefined ? { condition } : {}),
    ...(functionError !== undefined ? { functionError } : {}),
    ...(functionArn !== undefined ? { functionArn } : {}),
    firstFailureAt: at,
    lastFailureAt: at,
    attempts,
  }
  const text = record.requestPayload
  const parsed = parseEvent(text)
  const whole = (event: Pick<StoredDeadLetter, 'event' | 'eventText'>, n: Notes, item?: Item): StoredDeadLetter => ({
    ...common,
    ...(item?.poison ? asPoison(common.reason, item.poison) : {}),
    key: destinationKey(ctx.requestId, item?.messageId, 0, text),
    ...(item?.messageId !== undefined ? { messageId: item.messageId } : {}),
    ...n.field(),
    ...event,
    wholeEvent: true,
  })
  const items: Item[] = [
    ...parsed.messages.map((m) => ({ index: m.index, messageId: m.messageId, raw: m.raw })),
    ...parsed.poison.map((p) => ({ index: p.index, messageId: p.messageId, raw: p.event, poison: p })),
  ].sort((a, b) => a.index - b.index)
  // Not a batch (not JSON, a JSON string, one CloudEvent, an empty array): the event is kept whole, so
  // replay sends exactly what was received (a JSON string is never unwrapped into a batch).
  if (parsed.shape === 'unparsable') {
    const notJson = parsed.poison[0]?.reason.startsWith('event is not JSON') ?? true
    return [whole(notJson ? { event: text, eventText: true } : keptEvent(parsed.poison[0]!.event, text, notes), notes, items[0])]
  }
  if (parsed.received === 0) return [whole({ event: [] }, notes)]
  if (parsed.shape === 'event-driven' || !text.trimStart().startsWith('[')) {
    const n = notes.with()
    return [whole(keptEvent(items[0]?.raw, text, n), n, items[0])]
  }
  let texts: string[] | undefined
  return items.map((m) => {
    const n = notes.with()
    const kept = storable(m.raw)
    // Only an item that cannot stay JSON needs its exact text: cut from the payload then, not before.
    if (kept.eventText) texts ??= arrayItemTexts(text)
    const event = kept.eventText ? keptEvent(m.raw, texts?.[m.index], n) : { event: kept.event }
    return {
      ...common,
      ...(m.poison ? asPoison(common.reason, m.poison) : {}),
      key: destinationKey(ctx.requestId, m.messageId, m.index, event.event),
      ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
      ...n.field(),
      ...event,
    }
  })
}

/** One message of the failed event; `poison` when the bridge's own parser refuses it. */
interface Item {
  index: number
  messageId: string | undefined
  raw: unknown
  poison?: { reason: string; lossy?: true }
}

/**
 * A message the bridge's parser refuses was dead-lettered by the bridge itself, as poison, whatever else
 * failed in its batch: redrive must never send it again (docs/operations.md, "Redrive").
 */
function asPoison(reason: string, p: NonNullable<Item['poison']>): Pick<StoredDeadLetter, 'reason' | 'failure' | 'lossy'> {
  const own = p.reason.length > 500 ? `${p.reason.slice(0, 500)}…` : p.reason
  return { reason: `${reason}; the message itself is poison: ${own}`, failure: 'poison', ...(p.lossy ? { lossy: true } : {}) }
}

/** An event that is none of the records above, stored as it came: nothing reaching the function is dropped. */
export function unrecognisedEntry(value: unknown, text: string | undefined, requestId: string, receivedAt: Date): StoredDeadLetter {
  const at = receivedAt.toISOString()
  const notes = new Notes()
  let event: Pick<StoredDeadLetter, 'event' | 'eventText'>
  if (text !== undefined && value === text) event = { event: text, eventText: true }
  else event = keptEvent(value, text, notes)
  return {
    key: entryKey('unrecognised', fingerprint(text ?? event.event)),
    reason:
      'the dead-letter function received an event that is neither an asynchronous-destination record nor a bridge poison record; stored as received',
    requestId,
    source: 'unrecognised',
    failure: 'unknown',
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 1,
    ...notes.field(),
    ...event,
    wholeEvent: true,
  }
}

/** A part record refused by parts.ts: stored whole, with the reason, so nothing is dropped or left invisible. */
export function refusedPartEntry(value: unknown, why: string, requestId: string, receivedAt: Date): StoredDeadLetter {
  const at = receivedAt.toISOString()
  const notes = new Notes()
  const failed = isObject(value) ? textField(value['requestId'], 'requestId', notes, 200) : undefined
  const event = keptEvent(value, undefined, notes)
  return {
    key: entryKey('refused-part', fingerprint(event.event)),
    reason: `a part of an oversized dead letter was refused: ${why}`,
    requestId: failed ?? requestId,
    source: 'refused-part',
    failure: 'unknown',
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 1,
    ...notes.field(),
    ...event,
    wholeEvent: true,
  }
}
