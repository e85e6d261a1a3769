// What the dead-letter function does with an event: recognise it (an asynchronous-destination record,
// a bridge poison record or a part of one), turn it into store entries, store them, log one line each.
// Anything it does not recognise is stored too, as it came: nothing reaching it is dropped.
import { DeadLetterStoreError, messageOf } from '../errors.js'
import type { FcContext } from '../fc/context.js'
import type { Logger } from '../logging/logger.js'
import { destinationEntries, poisonEntries, unrecognisedEntry } from './entries.js'
import { clearParts, storePart } from './parts.js'
import {
  destinationRecordSchema,
  type PoisonPartRecord,
  poisonPartRecordSchema,
  poisonRecordSchema,
  type StoredDeadLetter,
} from './record.js'
import { appendDeadLetters } from './store.js'

export type Intake =
  | { kind: 'destination'; entries: StoredDeadLetter[] }
  | { kind: 'poison'; entries: StoredDeadLetter[] }
  | { kind: 'part'; part: PoisonPartRecord }
  | { kind: 'unrecognised'; entries: StoredDeadLetter[] }

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
  const destination = destinationRecordSchema.safeParse(value)
  if (destination.success) return { kind: 'destination', entries: destinationEntries(destination.data, receivedAt) }
  const poison = poisonRecordSchema.safeParse(value)
  if (poison.success) return { kind: 'poison', entries: poisonEntries(poison.data) }
  const part = poisonPartRecordSchema.safeParse(value)
  if (part.success) return { kind: 'part', part: part.data }
  return { kind: 'unrecognised', entries: [unrecognisedEntry(value, text, requestId, receivedAt)] }
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
  let entries: StoredDeadLetter[]
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
