// What the dead-letter function does with an event: recognise it (an asynchronous-destination record,
// a bridge poison record or a part of one), turn it into store entries, store them, log one line each.
// Anything it does not recognise is stored too, as it came: nothing reaching it is dropped.
import { z } from 'zod'
import { DeadLetterStoreError, messageOf } from '../errors.js'
import { parseEvent } from '../events/parse.js'
import type { FcContext } from '../fc/context.js'
import type { Logger } from '../logging/logger.js'
import { clearParts, storePart } from './parts.js'
import { type PoisonPartRecord, type PoisonRecord, poisonEntries } from './sink.js'
import { appendDeadLetters, type DeadLetterEntry, entryKey, fingerprint } from './store.js'

/** zod 4's z.number() refused Infinity (JSON's 1e400), and its .int() any integer beyond 2^53 - 1. */
const num = () => z.number().finite()
const safeInt = () => z.number().int().safe()

const destinationSchema = z.object({
  timestamp: num().optional(),
  requestContext: z.object({
    requestId: z.string(),
    functionArn: z.string().optional(),
    condition: z.string().optional(),
    approximateInvokeCount: num().optional(),
  }),
  requestPayload: z.string(),
  responseContext: z.object({ statusCode: num().optional(), functionError: z.string().optional() }).optional(),
  responsePayload: z.unknown().optional(),
})
export type DestinationRecord = z.infer<typeof destinationSchema>

const poisonMessageFields = z.object({
  reason: z.string(),
  ruleId: z.string().optional(),
  messageId: z.string().optional(),
  index: num(),
  event: z.unknown(),
})
/** zod 4 required the `event` key, whatever its value; zod 3's z.unknown() also takes it missing. */
const poisonMessageSchema = poisonMessageFields.refine((m) => 'event' in m)
const poisonSchema = z.object({
  kind: z.literal('rocketmq-mqtt-bridge.poison'),
  requestId: z.string(),
  failedAt: z.string(),
  messages: z.array(poisonMessageSchema),
})
const partSchema = z.object({
  kind: z.literal('rocketmq-mqtt-bridge.poison-part'),
  requestId: z.string(),
  failedAt: z.string(),
  message: poisonMessageFields.omit({ event: true }),
  part: z.object({
    index: safeInt().min(0),
    count: safeInt().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: safeInt().min(0),
    data: z.string(),
  }),
})

export type Intake =
  | { kind: 'destination'; entries: DeadLetterEntry[] }
  | { kind: 'poison'; entries: DeadLetterEntry[] }
  | { kind: 'part'; part: PoisonPartRecord }
  | { kind: 'unrecognised'; entries: DeadLetterEntry[] }

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
export function destinationEntries(record: DestinationRecord, receivedAt: Date): DeadLetterEntry[] {
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
    ...parsed.poison.map((p) => ({ index: p.index, messageId: p.messageId, raw: p.raw })),
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

/** Recognises the event: a Buffer (as Function Compute passes it), text, or a parsed value. */
export function recognise(event: unknown, receivedAt: Date, requestId: string): Intake {
  let value: unknown = event
  let text: string | undefined
  if (Buffer.isBuffer(event) || event instanceof Uint8Array || typeof event === 'string') {
    text = typeof event === 'string' ? event : Buffer.from(event.buffer, event.byteOffset, event.byteLength).toString('utf8')
    try {
      value = JSON.parse(text)
    } catch {
      value = text
    }
  }
  const destination = destinationSchema.safeParse(value)
  if (destination.success) return { kind: 'destination', entries: destinationEntries(destination.data, receivedAt) }
  const poison = poisonSchema.safeParse(value)
  if (poison.success) return { kind: 'poison', entries: poisonEntries(poison.data as PoisonRecord) }
  const part = partSchema.safeParse(value)
  if (part.success) return { kind: 'part', part: part.data }
  const at = receivedAt.toISOString()
  return {
    kind: 'unrecognised',
    entries: [
      {
        key: entryKey('unrecognised', fingerprint(text ?? value)),
        reason:
          'the dead-letter function received an event that is neither an asynchronous-destination record nor a bridge poison record; stored as received',
        requestId,
        source: 'unrecognised',
        firstFailureAt: at,
        lastFailureAt: at,
        attempts: 1,
        event: value,
      },
    ],
  }
}

export interface IntakeSummary {
  requestId: string
  kind: Intake['kind']
  received: number
  stored: number
  failedAgain: number
  duplicates: number
  /** Part records: how many parts of the message are in, of how many. */
  parts?: { have: number; count: number; complete: boolean }
}

/** Stores what the event carries under `dir`; throws DeadLetterStoreError when it cannot. */
export async function storeDeadLetterEvent(
  dir: string,
  event: unknown,
  context: FcContext | undefined,
  log: Logger,
  now = new Date(),
): Promise<IntakeSummary> {
  const requestId = context?.requestId ?? 'unknown'
  const intake = recognise(event, now, requestId)
  let entries: DeadLetterEntry[]
  let parts: IntakeSummary['parts']
  let group: string | undefined
  if (intake.kind === 'part') {
    const p = intake.part
    let stored: Awaited<ReturnType<typeof storePart>>
    try {
      stored = await storePart(dir, p)
    } catch (err) {
      throw new DeadLetterStoreError(dir, 1, err)
    }
    parts = { have: stored.have, count: p.part.count, complete: stored.record !== undefined }
    log.info({
      event: 'dead-letter.part',
      requestId,
      sourceRequestId: p.requestId,
      messageId: p.message.messageId ?? null,
      part: p.part.index,
      have: stored.have,
      count: p.part.count,
    })
    if (!stored.record) return { requestId, kind: 'part', received: 0, stored: 0, failedAgain: 0, duplicates: 0, parts }
    group = stored.group
    entries = poisonEntries(stored.record)
  } else {
    entries = intake.entries
  }

  let result: Awaited<ReturnType<typeof appendDeadLetters>>
  try {
    result = await appendDeadLetters(dir, entries, now)
  } catch (err) {
    log.error({ event: 'dead-letter.store-failed', requestId, dir, count: entries.length, error: messageOf(err) })
    throw new DeadLetterStoreError(dir, entries.length, err)
  }
  if (group !== undefined) await clearParts(dir, group)
  entries.forEach((e, i) => {
    log[e.source === 'unrecognised' ? 'warn' : 'info']({
      event: 'dead-letter.stored',
      requestId,
      outcome: result.outcomes[i],
      key: e.key,
      source: e.source,
      ruleId: e.ruleId ?? null,
      messageId: e.messageId ?? null,
      failedRequestId: e.requestId ?? null,
      reason: e.reason,
    })
  })
  return {
    requestId,
    kind: intake.kind,
    received: entries.length,
    stored: result.stored,
    failedAgain: result.failedAgain,
    duplicates: result.duplicates,
    ...(parts ? { parts } : {}),
  }
}
