// What reaches the dead-letter function, turned into store entries: a bridge poison record, a Function
// Compute asynchronous-destination record (one entry per message of the failed event), or anything else.
import { parseEvent } from '../events/parse.js'
import { entryKey, fingerprint, poisonKey } from './keys.js'
import type { DestinationRecord, PoisonRecord, StoredDeadLetter } from './record.js'

/** One entry per poison message of the record. */
export function poisonEntries(record: PoisonRecord): StoredDeadLetter[] {
  return record.messages.map((m) => ({
    key: poisonKey(m),
    reason: m.reason,
    ...(m.ruleId !== undefined ? { ruleId: m.ruleId } : {}),
    ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
    requestId: record.requestId,
    source: 'bridge-poison',
    firstFailureAt: record.failedAt,
    lastFailureAt: record.failedAt,
    attempts: 1,
    event: m.event,
  }))
}

/** The error message the failed function returned, when the destination record carries one. */
function errorMessageOf(responsePayload: unknown): string | undefined {
  let value = responsePayload
  if (typeof responsePayload === 'string') {
    try {
      value = JSON.parse(responsePayload)
    } catch {
      return responsePayload.length > 0 ? responsePayload.slice(0, 500) : undefined
    }
  }
  if (typeof value === 'object' && value !== null && typeof (value as { errorMessage?: unknown }).errorMessage === 'string') {
    return (value as { errorMessage: string }).errorMessage.slice(0, 500)
  }
  return undefined
}

/** One entry per message of the failed invocation's event, keyed by its request ID and the message ID. */
export function destinationEntries(record: DestinationRecord, receivedAt: Date): StoredDeadLetter[] {
  const ctx = record.requestContext
  const condition = ctx.condition
  const functionError = record.responseContext?.functionError
  const error = errorMessageOf(record.responsePayload)
  const attempts = ctx.approximateInvokeCount ?? 1
  const at = new Date(record.timestamp ?? receivedAt.getTime()).toISOString()
  const reason = `asynchronous invocation failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${[condition, functionError].filter(Boolean).join(', ') || 'no condition given'}${error ? `: ${error}` : ''}`
  const common = {
    reason,
    requestId: ctx.requestId,
    source: 'async-destination' as const,
    ...(condition !== undefined ? { condition } : {}),
    ...(functionError !== undefined ? { functionError } : {}),
    ...(ctx.functionArn !== undefined ? { functionArn: ctx.functionArn } : {}),
    firstFailureAt: at,
    lastFailureAt: at,
    attempts,
  }
  const parsed = parseEvent(record.requestPayload)
  const items = [
    ...parsed.messages.map((m) => ({ index: m.index, messageId: m.messageId, raw: m.raw })),
    ...parsed.poison.map((p) => ({ index: p.index, messageId: p.messageId, raw: p.event })),
  ].sort((a, b) => a.index - b.index)
  // An empty batch still failed: keep the record's payload so the failure is visible.
  if (items.length === 0)
    return [{ ...common, key: entryKey('async', ctx.requestId, fingerprint(record.requestPayload)), event: record.requestPayload }]
  return items.map((m) => ({
    ...common,
    key: entryKey('async', ctx.requestId, m.messageId ?? `#${m.index}:${fingerprint(m.raw)}`),
    ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
    event: m.raw,
  }))
}

/** An event that is none of the records above, stored as it came: nothing reaching the function is dropped. */
export function unrecognisedEntry(value: unknown, text: string | undefined, requestId: string, receivedAt: Date): StoredDeadLetter {
  const at = receivedAt.toISOString()
  return {
    key: entryKey('unrecognised', fingerprint(text ?? value)),
    reason:
      'the dead-letter function received an event that is neither an asynchronous-destination record nor a bridge poison record; stored as received',
    requestId,
    source: 'unrecognised',
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 1,
    event: value,
  }
}
