// What the dead-letter function does with an event: recognise it (an asynchronous-destination record,
// a bridge poison record or a part of one, or its timer), turn it into store entries, store them, log one
// line each. Records are recognised by their envelope only and then checked item by item (entries.ts), so
// one hostile item cannot cost its neighbours. Anything it does not recognise is stored too, as it came.
import type { DeadLetterConfig } from '../config/dead-letter.js'
import { DeadLetterStoreError, messageOf } from '../errors.js'
import { type FcContext, invocationDeadline } from '../fc/context.js'
import type { Logger } from '../logging/logger.js'
import type { Deadline } from './bounded-fs.js'
import { destinationEntries, type LooseDestinationRecord, poisonEntries, refusedPartEntry, unrecognisedEntry } from './entries.js'
import { isObject } from './fields.js'
import { clearGroup, storePart } from './parts.js'
import { type PoisonPartRecord, poisonPartRecordSchema, type StoredDeadLetter } from './record.js'
import { appendDeadLetters } from './store.js'
import { isTimerEvent, runTimer, type TimerSummary } from './timer.js'

/** Messages named in a dead-letter.store-failed line at most. */
const MAX_LOGGED = 50

/** What a log line says of a message it could not store: enough to find it again in RocketMQ. */
function identity(m: { messageId?: string | undefined; ruleId?: string | undefined; reason: string }, failedRequestId: string | undefined) {
  return {
    messageId: m.messageId ?? null,
    ruleId: m.ruleId ?? null,
    failedRequestId: failedRequestId ?? null,
    reason: m.reason.slice(0, 300),
  }
}

export type Intake =
  | { kind: 'destination'; entries: StoredDeadLetter[] }
  | { kind: 'poison'; entries: StoredDeadLetter[] }
  | { kind: 'part'; part: PoisonPartRecord }
  | { kind: 'refused-part'; entries: StoredDeadLetter[] }
  | { kind: 'unrecognised'; entries: StoredDeadLetter[] }
  | { kind: 'timer' }

function isDestination(v: unknown): v is LooseDestinationRecord {
  return (
    isObject(v) &&
    isObject(v['requestContext']) &&
    typeof v['requestContext']['requestId'] === 'string' &&
    typeof v['requestPayload'] === 'string'
  )
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
  if (isTimerEvent(value)) return { kind: 'timer' }
  if (isDestination(value)) return { kind: 'destination', entries: destinationEntries(value, receivedAt) }
  if (isObject(value) && value['kind'] === 'rocketmq-mqtt-bridge.poison' && Array.isArray(value['messages']))
    return { kind: 'poison', entries: poisonEntries(value as { messages: unknown[] }, receivedAt) }
  if (isObject(value) && value['kind'] === 'rocketmq-mqtt-bridge.poison-part') {
    const part = poisonPartRecordSchema.safeParse(value)
    if (part.success) return { kind: 'part', part: part.data }
    const issue = part.error.issues[0]!
    const why = `its ${issue.path.join('.') || 'record'} does not match the part record: ${issue.message}`
    return { kind: 'refused-part', entries: [refusedPartEntry(value, why, requestId, receivedAt)] }
  }
  return { kind: 'unrecognised', entries: [unrecognisedEntry(value, text, requestId, receivedAt)] }
}

export interface IntakeSummary {
  requestId: string
  kind: Exclude<Intake['kind'], 'timer'>
  received: number
  stored: number
  failedAgain: number
  duplicates: number
  /** Part records: how many parts of the message are in, of how many. */
  parts?: { have: number; count: number; complete: boolean }
}

export interface IntakeOptions {
  now?: Date
  deadline?: Deadline
}

/**
 * Handles one event of the dead-letter function: stores what it carries, or runs the timer's work. Every
 * file-system call ends by `deadline`: by default the invocation's own (docs/operations.md, "Where the store is").
 */
export async function handleDeadLetterEvent(
  config: DeadLetterConfig,
  event: unknown,
  context: FcContext,
  log: Logger,
  options: IntakeOptions = {},
): Promise<IntakeSummary | TimerSummary> {
  const now = options.now ?? new Date()
  const deadline = options.deadline ?? invocationDeadline(Date.now(), context)
  const intake = recognise(event, now, context.requestId)
  if (intake.kind === 'timer') return runTimer(config, context, log, now, deadline)
  return storeIntake(config.dir, intake, context.requestId, log, { now, deadline })
}

async function storeIntake(
  dir: string,
  intake: Exclude<Intake, { kind: 'timer' }>,
  requestId: string,
  log: Logger,
  options: { now: Date; deadline: Deadline },
): Promise<IntakeSummary> {
  const { now, deadline } = options
  let entries: StoredDeadLetter[]
  let parts: IntakeSummary['parts']
  let group: string | undefined
  let kind: IntakeSummary['kind'] = intake.kind
  if (intake.kind === 'part') {
    const p = intake.part
    let outcome: Awaited<ReturnType<typeof storePart>>
    try {
      outcome = await storePart(dir, p, now, deadline)
    } catch (err) {
      log.error({
        event: 'dead-letter.store-failed',
        requestId,
        dir,
        count: 1,
        error: messageOf(err),
        messages: [identity(p.message, p.requestId)],
      })
      throw new DeadLetterStoreError(dir, 1, err)
    }
    if (outcome.kind === 'duplicate') {
      log.info({ event: 'dead-letter.part', requestId, sourceRequestId: p.requestId, part: p.part.index, outcome: 'duplicate' })
      const count = outcome.count
      return { requestId, kind, received: 0, stored: 0, failedAgain: 0, duplicates: 1, parts: { have: count, count, complete: true } }
    }
    if (outcome.kind === 'refused') {
      kind = 'refused-part'
      entries = [refusedPartEntry(p, outcome.why, requestId, now)]
    } else {
      parts = { have: outcome.have, count: outcome.count, complete: outcome.kind === 'complete' }
      log.info({
        event: 'dead-letter.part',
        requestId,
        sourceRequestId: p.requestId,
        messageId: p.message.messageId ?? null,
        part: p.part.index,
        have: outcome.have,
        count: outcome.count,
      })
      if (outcome.kind === 'waiting') return { requestId, kind, received: 0, stored: 0, failedAgain: 0, duplicates: 0, parts }
      group = outcome.group
      entries = outcome.entries
    }
  } else {
    entries = intake.entries
  }

  let result: Awaited<ReturnType<typeof appendDeadLetters>>
  try {
    result = await appendDeadLetters(dir, entries, { now, deadline })
    if (group !== undefined) await clearGroup(dir, group, now, deadline)
  } catch (err) {
    // Which messages: should Function Compute's retries run out too, this line is what is left of them.
    const messages = entries.slice(0, MAX_LOGGED).map((e) => identity(e, e.requestId))
    log.error({ event: 'dead-letter.store-failed', requestId, dir, count: entries.length, error: messageOf(err), messages })
    throw new DeadLetterStoreError(dir, entries.length, err)
  }
  entries.forEach((e, i) => {
    log[e.source === 'bridge-poison' || e.source === 'async-destination' ? 'info' : 'warn']({
      event: 'dead-letter.stored',
      requestId,
      outcome: result.outcomes[i],
      key: e.key,
      source: e.source,
      failure: e.failure ?? null,
      ruleId: e.ruleId ?? null,
      messageId: e.messageId ?? null,
      failedRequestId: e.requestId ?? null,
      reason: e.reason,
      ...(e.note !== undefined ? { note: e.note } : {}),
    })
  })
  return {
    requestId,
    kind,
    received: entries.length,
    stored: result.stored,
    failedAgain: result.failedAgain,
    duplicates: result.duplicates,
    ...(parts ? { parts } : {}),
  }
}
