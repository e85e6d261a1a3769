// Handing poison messages from the bridge to DEAD_LETTER_TARGET; a failed hand-off throws, so the invocation
// fails. file:<dir> runs the store in process; fc:<name> invokes the dead-letter function asynchronously,
// payloads under the 128 KB limit (pack.ts).
import type { DeadLetterTarget } from '../../config/bridge.js'
import { DeadLetterError, messageOf } from '../../errors.js'
import type { FcContext } from '../../fc/context.js'
import { FcInvoker, ownIdentity } from '../../fc/invoke.js'
import type { Secrets } from '../../logging/secrets.js'
import type { PoisonRecord } from '../record.js'
import { packPoison } from './pack.js'

/** The invocation the hand-off belongs to: its context, its deadline (every wait ends by then), its redactor. */
export type HandOffOptions = { context: FcContext; deadline: number; secrets?: Secrets }

export interface DeadLetterSink {
  readonly description: string
  /** Stores or forwards the record; throws DeadLetterError when it cannot, so the invocation fails. */
  send(record: PoisonRecord, options: HandOffOptions): Promise<void>
}

/** The longest one asynchronous invoke may take; less when the invocation's deadline is nearer. */
const HAND_OFF_TIMEOUT_MS = 10_000
/** Calls in flight at once when a record needs several. */
const HAND_OFF_CONCURRENCY = 4

/** file:<dir>, bounded by the invocation; the store is imported on first use, off the bridge's cold start. */
const fileSink = (dir: string): DeadLetterSink => ({
  description: `file:${dir}`,
  async send(record, { deadline }) {
    try {
      const [{ DeadLetterStore }, { poisonEntries }] = await Promise.all([import('../store/store.js'), import('../store/entries.js')])
      const store = new DeadLetterStore(dir, { deadline })
      await store.put(poisonEntries(record, store.now()))
    } catch (err) {
      throw new DeadLetterError(`file:${dir}`, record.messages.length, err)
    }
  },
})

/** fc:<name>: asynchronous invocation of the dead-letter function with the invocation's own STS credentials. */
const functionSink = (functionName: string, endpoint: string | undefined): DeadLetterSink => ({
  description: `fc:${functionName}`,
  async send(record, { context, deadline, secrets }) {
    const fail = (detail: string) => new DeadLetterError(`fc:${functionName}`, record.messages.length, new Error(detail))
    const own = ownIdentity(context)
    if (!own.ok)
      throw fail(
        `${own.reason}: the fc: target works on Function Compute (with a role) or the local invoke server; elsewhere set DEAD_LETTER_TARGET=file:<dir>`,
      )
    const options = { ...own.value, ...(endpoint !== undefined ? { endpoint } : {}), ...(secrets ? { secrets } : {}) }
    const invoker = new FcInvoker({ ...options, timeoutMs: HAND_OFF_TIMEOUT_MS })
    const payloads = packPoison(record)
    const failures: string[] = []
    let next = 0
    const worker = async () => {
      // Each call ends before the invocation's deadline, and none starts after it: the hand-off fails with
      // its own error instead of Function Compute killing the invocation.
      for (let left = deadline - Date.now(); next < payloads.length && left > 0; left = deadline - Date.now()) {
        const payload = JSON.stringify(payloads[next++])
        await invoker
          .invoke(functionName, payload, 'Async', { timeoutMs: Math.min(HAND_OFF_TIMEOUT_MS, left) })
          .catch((err) => failures.push(messageOf(err)))
      }
    }
    await Promise.all(Array.from({ length: Math.min(HAND_OFF_CONCURRENCY, payloads.length) }, worker))
    // Calls that went through are harmless to repeat: the dead-letter function deduplicates.
    const n = payloads.length
    const notSent = n - next
    const s = n === 1 ? '' : 's'
    const detail = [
      notSent > 0 ? `${notSent} of ${n} payload${s} not handed off: the invocation's deadline passed before their calls` : '',
      failures.length > 0 ? `${failures.length} of ${n} asynchronous invoke${s} failed: ${failures[0]}` : '',
    ]
    if (detail.some(Boolean)) throw fail(detail.filter(Boolean).join('; '))
  },
})

export const createDeadLetterSink = (target: DeadLetterTarget): DeadLetterSink =>
  target.kind === 'file' ? fileSink(target.dir) : functionSink(target.functionName, target.endpoint)
