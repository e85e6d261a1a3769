// Handing poison messages from the bridge to DEAD_LETTER_TARGET. A failed hand-off throws, so the
// invocation fails and nothing is lost silently.
//
// file:<dir> stores them directly. fc:<name> invokes the dead-letter function asynchronously through
// @alicloud/fc2, several messages per call, each call's payload under the 128 KB asynchronous limit. A
// single message too big for one call is sent in parts, which the dead-letter function reassembles.
import type { DeadLetterTarget } from '../config/bridge.js'
import { DeadLetterError, messageOf } from '../errors.js'
import type { FcContext } from '../fc/context.js'
import { FcInvoker } from '../fc/invoke.js'
import type { Secrets } from '../logging/secrets.js'
import { poisonEntries } from './entries.js'
import { packPoison } from './pack.js'
import type { PoisonRecord } from './record.js'
import { appendDeadLetters } from './store.js'

/** The invocation the hand-off belongs to: its context, its deadline (every wait ends by then), its redactor. */
export interface HandOffOptions {
  context: FcContext
  deadline: number
  secrets?: Secrets
}

export interface DeadLetterSink {
  readonly description: string
  /** Stores or forwards the record; throws DeadLetterError when it cannot, so the invocation fails. */
  send(record: PoisonRecord, options: HandOffOptions): Promise<void>
}

/** The longest one asynchronous invoke may take; less when the invocation's deadline is nearer. */
const HAND_OFF_TIMEOUT_MS = 10_000
/** Calls in flight at once when a record needs several. */
const HAND_OFF_CONCURRENCY = 4

class FileSink implements DeadLetterSink {
  readonly description: string
  constructor(private readonly dir: string) {
    this.description = `file:${dir}`
  }

  async send(record: PoisonRecord, { deadline }: HandOffOptions): Promise<void> {
    try {
      // Bounded by the invocation: a store that hangs (or refuses, as /proc does) fails the hand-off clearly.
      const now = new Date()
      await appendDeadLetters(this.dir, poisonEntries(record, now), { now, deadline })
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

  async send(record: PoisonRecord, { context, deadline, secrets }: HandOffOptions): Promise<void> {
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
    const invoker = new FcInvoker({
      accountId,
      region,
      credentials,
      ...(this.endpoint !== undefined ? { endpoint: this.endpoint } : {}),
      ...(secrets ? { secrets } : {}),
      timeoutMs: HAND_OFF_TIMEOUT_MS,
    })
    const payloads = packPoison(record)
    const failures: string[] = []
    let next = 0
    const worker = async () => {
      while (next < payloads.length) {
        // Each call ends before the invocation's deadline, and none starts after it: the hand-off fails
        // with its own error instead of Function Compute killing the invocation.
        const left = deadline - Date.now()
        if (left <= 0) return
        const payload = payloads[next++]!
        try {
          await invoker.invoke(this.functionName, JSON.stringify(payload), 'Async', { timeoutMs: Math.min(HAND_OFF_TIMEOUT_MS, left) })
        } catch (err) {
          failures.push(messageOf(err))
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(HAND_OFF_CONCURRENCY, payloads.length) }, worker))
    const notSent = payloads.length - next
    if (failures.length > 0 || notSent > 0) {
      // Calls that went through are harmless to repeat: the dead-letter function deduplicates.
      const n = payloads.length
      const detail = [
        notSent > 0
          ? `${notSent} of ${n} payload${n === 1 ? '' : 's'} not handed off: the invocation's deadline passed before their calls`
          : '',
        failures.length > 0 ? `${failures.length} of ${n} asynchronous invoke${n === 1 ? '' : 's'} failed: ${failures[0]}` : '',
      ]
        .filter(Boolean)
        .join('; ')
      throw new DeadLetterError(this.description, record.messages.length, new Error(detail))
    }
  }
}

export function createDeadLetterSink(target: DeadLetterTarget): DeadLetterSink {
  if (target.kind === 'file') return new FileSink(target.dir)
  return new FunctionSink(target.functionName, target.endpoint)
}
