// What the dead-letter function does with an event: recognise it by its envelope (a destination record, a
// poison record or part, the timer), store its entries (checked item by item, entries.ts), log a line each.
import type { DeadLetterConfig } from '../../config/dead-letter.js'
import { DeadLetterStoreError, messageOf } from '../../errors.js'
import { type FcContext, invocationDeadline } from '../../fc/context.js'
import type { Logger } from '../../logging/logger.js'
import { type PoisonPartRecord, poisonPartRecordSchema } from '../record.js'
import { destinationEntries, isObject, type LooseDestinationRecord, poisonEntries, wholeEntry } from './entries.js'
import type { StoreClock } from './fs.js'
import { clearGroup, storePart } from './parts.js'
import { DeadLetterStore, type NewEntry, type PutResult } from './store.js'
import { isTimerEvent, runTimer, type TimerSummary } from './timer.js'

export type Intake =
  | { kind: 'destination' | 'poison' | 'refused-part' | 'unrecognised'; entries: NewEntry[] }
  | { kind: 'part'; part: PoisonPartRecord }
  | { kind: 'timer' }

const isDestination = (v: unknown): v is LooseDestinationRecord =>
  isObject(v) &&
  isObject(v['requestContext']) &&
  typeof v['requestContext']['requestId'] === 'string' &&
  typeof v['requestPayload'] === 'string'

/** Recognises the event: a Buffer (as Function Compute passes it), text, or a parsed value. */
export function recognise(event: unknown, received: number, requestId: string): Intake {
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
  if (isDestination(value)) return { kind: 'destination', entries: destinationEntries(value, received) }
  if (isObject(value) && value['kind'] === 'rocketmq-mqtt-bridge.poison' && Array.isArray(value['messages']))
    return { kind: 'poison', entries: poisonEntries(value as { messages: unknown[] }, received) }
  if (isObject(value) && value['kind'] === 'rocketmq-mqtt-bridge.poison-part') {
    const part = poisonPartRecordSchema.safeParse(value)
    if (part.success) return { kind: 'part', part: part.data }
    const issue = part.error.issues[0]!
    const why = `its ${issue.path.join('.') || 'record'} does not match the part record: ${issue.message}`
    return { kind: 'refused-part', entries: [wholeEntry(value, undefined, requestId, received, why)] }
  }
  return { kind: 'unrecognised', entries: [wholeEntry(value, text, requestId, received)] }
}

/** What put() did with the `received` entries of one event. */
export type IntakeSummary = Omit<PutResult, 'outcomes'> & {
  requestId: string
  kind: Exclude<Intake['kind'], 'timer'>
  received: number
  /** Part records: how many parts of the message are in, of how many. */
  parts?: { have: number; count: number; complete: boolean }
}

/** What a log line says of a message it could not store: enough to find it again in RocketMQ. */
const identity = (m: { messageId?: string | undefined; ruleId?: string | undefined; reason: string; requestId?: string | undefined }) => ({
  messageId: m.messageId ?? null,
  ruleId: m.ruleId ?? null,
  failedRequestId: m.requestId ?? null,
  reason: m.reason.slice(0, 300),
})

/** Stores what one event carries, or runs the timer; every file-system call ends by `deadline` (the invocation's). */
export async function handleDeadLetterEvent(
  config: DeadLetterConfig,
  event: unknown,
  context: FcContext,
  log: Logger,
  options: { clock?: StoreClock; deadline?: number } = {},
): Promise<IntakeSummary | TimerSummary> {
  const probe = new DeadLetterStore(config.dir, options)
  const store = options.deadline === undefined ? probe.until(invocationDeadline(probe.now(), context)) : probe
  const intake = recognise(event, store.now(), context.requestId)
  if (intake.kind === 'timer') return runTimer(config, store, context, log)
  const requestId = context.requestId
  const failed = (err: unknown, messages: Array<Parameters<typeof identity>[0]>): never => {
    // Which messages: should Function Compute's retries run out too, this line is what is left of them.
    const [count, error] = [messages.length, messageOf(err)]
    log.error({ event: 'dead-letter.store-failed', requestId, dir: store.dir, count, error, messages: messages.slice(0, 50).map(identity) })
    throw new DeadLetterStoreError(store.dir, count, err)
  }
  const none = { requestId, received: 0, stored: 0, failedAgain: 0, duplicates: 0 }
  let [kind, entries]: [IntakeSummary['kind'], NewEntry[]] = intake.kind === 'part' ? ['part', []] : [intake.kind, intake.entries]
  let parts: IntakeSummary['parts']
  let group: string | undefined
  if (intake.kind === 'part') {
    const p = intake.part
    const outcome = await storePart(store, p).catch((err) => failed(err, [{ ...p.message, requestId: p.requestId }]))
    const line = {
      event: 'dead-letter.part',
      requestId,
      sourceRequestId: p.requestId,
      messageId: p.message.messageId ?? null,
      part: p.part.index,
    }
    if (outcome.kind === 'refused') [kind, entries] = ['refused-part', [wholeEntry(p, undefined, requestId, store.now(), outcome.why)]]
    else if (outcome.kind === 'duplicate') {
      log.info({ ...line, outcome: 'duplicate' })
      return { ...none, kind, duplicates: 1, parts: { have: outcome.count, count: outcome.count, complete: true } }
    } else {
      parts = { have: outcome.have, count: outcome.count, complete: outcome.kind === 'complete' }
      log.info({ ...line, have: outcome.have, count: outcome.count })
      if (outcome.kind === 'waiting') return { ...none, kind, parts }
      ;[group, entries] = [outcome.group, outcome.entries]
    }
  }
  const result = await (async () => {
    const r = await store.put(entries)
    if (group !== undefined) await clearGroup(store, group) // once what it became is durable
    return r
  })().catch((err) => failed(err, entries))
  entries.forEach((e, i) => {
    log[e.source === 'bridge-poison' || e.source === 'async-destination' ? 'info' : 'warn']({
      event: 'dead-letter.stored',
      requestId,
      outcome: result.outcomes[i],
      key: e.key,
      source: e.source,
      failure: e.failure,
      ruleId: e.ruleId ?? null,
      messageId: e.messageId ?? null,
      failedRequestId: e.requestId ?? null,
      reason: e.reason,
      ...(e.note !== undefined ? { note: e.note } : {}),
    })
  })
  const { stored, failedAgain, duplicates } = result
  return { requestId, kind, received: entries.length, stored, failedAgain, duplicates, ...(parts ? { parts } : {}) }
}
