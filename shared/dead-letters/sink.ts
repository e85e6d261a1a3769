// Handing poison messages from the bridge to DEAD_LETTER_TARGET. A failed hand-off throws, so the
// invocation fails and nothing is lost silently.
//
// file:<dir> stores them directly. fc:<name> invokes the dead-letter function asynchronously through
// @alicloud/fc2, several messages per call, each call's payload under the 128 KB asynchronous limit. A
// single message too big for one call is sent in parts, which the dead-letter function reassembles.
import { createHash } from 'node:crypto'
import type { DeadLetterTarget } from '../config/bridge.js'
import { DeadLetterError, messageOf } from '../errors.js'
import type { FcContext } from '../fc/context.js'
import { FcInvoker } from '../fc/invoke.js'
import { appendDeadLetters, type DeadLetterEntry, entryKey, fingerprint } from './store.js'

/** One poison message as the bridge reports it. */
export interface PoisonMessage {
  reason: string
  ruleId?: string
  messageId?: string
  /** Position in the batch. */
  index: number
  /** The batch entry verbatim (or the raw text of an event that was not JSON). */
  event: unknown
}

/** What the bridge sends to the dead-letter function (and what a file: target stores directly). */
export interface PoisonRecord {
  kind: 'rocketmq-mqtt-bridge.poison'
  requestId: string
  failedAt: string
  messages: PoisonMessage[]
}

/**
 * One slice of a poison message too big for one asynchronous invoke. `data` is a slice of the base64 of
 * the UTF-8 JSON text of the message's event (base64: its size in the payload is exactly its length).
 */
export interface PoisonPartRecord {
  kind: 'rocketmq-mqtt-bridge.poison-part'
  requestId: string
  failedAt: string
  message: Omit<PoisonMessage, 'event'>
  part: { index: number; count: number; sha256: string; bytes: number; data: string }
}

export interface DeadLetterSink {
  readonly description: string
  /** Stores or forwards the record; throws DeadLetterError when it cannot, so the invocation fails. */
  send(record: PoisonRecord, context: FcContext): Promise<void>
}

/** Function Compute's limit for an asynchronous invocation's payload (docs/platform-facts.md §4, §5). */
export const ASYNC_PAYLOAD_LIMIT = 128 * 1024
/** What one hand-off call carries at most: the limit less a margin for how the limit is counted. */
export const HAND_OFF_BUDGET = ASYNC_PAYLOAD_LIMIT - 8 * 1024
/** Calls in flight at once when a record needs several. */
const HAND_OFF_CONCURRENCY = 4

/**
 * A poison message is the same dead letter whenever it comes back: key by rule, message ID and content.
 * Without a message ID, identical entries at different batch positions are different messages, so the
 * position is part of the key (a retried batch keeps its positions).
 */
export function poisonKey(m: Pick<PoisonMessage, 'ruleId' | 'messageId' | 'event' | 'index'>): string {
  return entryKey('poison', m.ruleId, m.messageId ?? `@${m.index}`, fingerprint(m.event))
}

export function poisonEntries(record: PoisonRecord): DeadLetterEntry[] {
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

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8')

/**
 * Splits a record into payloads of at most `budget` bytes each (as JSON), keeping batch order: as many
 * messages per payload as fit, and a message that fits nowhere alone as a series of part records.
 */
export function packPoison(record: PoisonRecord, budget = HAND_OFF_BUDGET): Array<PoisonRecord | PoisonPartRecord> {
  const out: Array<PoisonRecord | PoisonPartRecord> = []
  const envelope = bytes({ ...record, messages: [] })
  let current: PoisonMessage[] = []
  let size = envelope
  const flush = () => {
    if (current.length > 0) out.push({ ...record, messages: current })
    current = []
    size = envelope
  }
  for (const m of record.messages) {
    const own = bytes(m) + 1 // and a comma
    if (envelope + own > budget) {
      flush()
      out.push(...splitMessage(record, m, budget))
      continue
    }
    if (size + own > budget) flush()
    current.push(m)
    size += own
  }
  flush()
  return out
}

function splitMessage(record: PoisonRecord, m: PoisonMessage, budget: number): PoisonPartRecord[] {
  const { event, ...rest } = m
  // A reason long enough to crowd out the data is cut; the event is what must survive whole.
  const message = rest.reason.length > 2000 ? { ...rest, reason: `${rest.reason.slice(0, 2000)}… (reason cut at 2000 characters)` } : rest
  const text = Buffer.from(JSON.stringify(event) ?? 'null', 'utf8')
  const data = text.toString('base64')
  const sha256 = createHash('sha256').update(text).digest('hex')
  const shell: PoisonPartRecord = {
    kind: 'rocketmq-mqtt-bridge.poison-part',
    requestId: record.requestId,
    failedAt: record.failedAt,
    message,
    part: { index: 999999, count: 999999, sha256, bytes: text.length, data: '' },
  }
  const room = budget - bytes(shell)
  if (room < 1024) throw new Error(`a dead-letter part record leaves no room for data (${bytes(shell)} bytes of envelope)`)
  const count = Math.ceil(data.length / room)
  return Array.from({ length: count }, (_, index) => ({
    ...shell,
    part: { index, count, sha256, bytes: text.length, data: data.slice(index * room, (index + 1) * room) },
  }))
}

class FileSink implements DeadLetterSink {
  readonly description: string
  constructor(private readonly dir: string) {
    this.description = `file:${dir}`
  }

  async send(record: PoisonRecord): Promise<void> {
    try {
      await appendDeadLetters(this.dir, poisonEntries(record))
    } catch (err) {
      throw new DeadLetterError(this.description, record.messages.length, err)
    }
  }
}

/** Asynchronous invocation of the dead-letter function with the invocation's own STS credentials. */
class FunctionSink implements DeadLetterSink {
  readonly description: string
  constructor(
    private readonly functionName: string,
    private readonly endpoint: string | undefined,
  ) {
    this.description = `fc:${functionName}`
  }

  async send(record: PoisonRecord, context: FcContext): Promise<void> {
    const { credentials, accountId, region } = context ?? {}
    if (!credentials?.accessKeyId || !credentials.accessKeySecret || !accountId || !region) {
      const missing = [
        !credentials?.accessKeyId || !credentials?.accessKeySecret ? 'credentials' : '',
        !accountId ? 'accountId' : '',
        !region ? 'region' : '',
      ]
        .filter(Boolean)
        .join(', ')
      throw new DeadLetterError(
        this.description,
        record.messages.length,
        new Error(
          `the invocation context has no ${missing}: the fc: target works on Function Compute (with a role) or the local invoke server; elsewhere set DEAD_LETTER_TARGET=file:<dir>`,
        ),
      )
    }
    const invoker = new FcInvoker({ accountId, region, credentials, ...(this.endpoint !== undefined ? { endpoint: this.endpoint } : {}) })
    const payloads = packPoison(record)
    const failures: string[] = []
    let next = 0
    const worker = async () => {
      while (next < payloads.length) {
        const payload = payloads[next++]!
        try {
          await invoker.invoke(this.functionName, JSON.stringify(payload), 'Async')
        } catch (err) {
          failures.push(messageOf(err))
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(HAND_OFF_CONCURRENCY, payloads.length) }, worker))
    if (failures.length > 0) {
      // Calls that went through are harmless to repeat: the dead-letter function deduplicates.
      const detail = `${failures.length} of ${payloads.length} asynchronous invoke${payloads.length === 1 ? '' : 's'} failed: ${failures[0]}`
      throw new DeadLetterError(this.description, record.messages.length, new Error(detail))
    }
  }
}

export function createDeadLetterSink(target: DeadLetterTarget): DeadLetterSink {
  if (target.kind === 'file') return new FileSink(target.dir)
  return new FunctionSink(target.functionName, target.endpoint)
}
