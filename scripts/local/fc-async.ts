// Asynchronous invocations of the local invoke server: run later, retried (maxAsyncRetryAttempts), then
// routed to the function's onFailure destination with the documented destination record
// (docs/platform-facts.md §5). The queue is bounded: when it is full, a new invocation is refused with
// 429 before its body is read, as Function Compute throttles, so no caller can grow it without end.
import { InvokeRefusal } from '../../shared/errors.js'
import { redact } from '../../shared/logging/secrets.js'
import { type ContextSettings, contextFor, type Loaded, newRequestId, runHandler } from './fc-functions.js'

export interface InvocationRecord {
  requestId: string
  functionName: string
  type: 'Sync' | 'Async' | 'Destination' | 'Http'
  attempt: number
  outcome: 'ok' | 'error' | 'refused'
  error?: string
}

/** Records kept for `npm start`'s report; older ones are forgotten, so no flood of requests grows it. */
export const MAX_INVOCATION_RECORDS = 1000

/** The most recent invocations, at most MAX_INVOCATION_RECORDS. */
export class InvocationLog extends Array<InvocationRecord> {
  override push(...items: InvocationRecord[]): number {
    super.push(...items)
    if (this.length > MAX_INVOCATION_RECORDS) this.splice(0, this.length - MAX_INVOCATION_RECORDS)
    return this.length
  }
}

export interface ErrorBody {
  errorMessage: string
  errorType: string
  stackTrace: string[]
}

export function errorBody(err: unknown): ErrorBody {
  const e = err instanceof Error ? err : new Error(String(err))
  return {
    errorMessage: redact(e.message),
    errorType: e.name,
    stackTrace: (e.stack ?? '')
      .split('\n')
      .slice(1, 6)
      .map((s) => redact(s.trim())),
  }
}

export interface AsyncQueueOptions {
  loaded: Map<string, Loaded>
  settings: ContextSettings
  invocations: InvocationRecord[]
  retryDelayMs: number
  /** Invocations queued, running or waiting to retry, at most. */
  limit: number
}

export class AsyncQueue {
  private pending = 0
  private idle: Array<() => void> = []

  constructor(private readonly o: AsyncQueueOptions) {}

  /** Throws 429 when the queue is full: checked before the body is read. */
  checkRoom(): void {
    if (this.pending >= this.o.limit)
      throw new InvokeRefusal(
        429,
        'ResourceThrottled',
        `${this.pending} asynchronous invocations are queued or running, the most this server keeps; try again once they are done`,
      )
  }

  enqueue(l: Loaded, body: Buffer, requestId: string): void {
    this.checkRoom()
    this.pending++
    void this.run(l, body, requestId).finally(() => {
      this.pending--
      if (this.pending > 0) return
      const waiting = this.idle
      this.idle = []
      for (const w of waiting) w()
    })
  }

  /** Resolves when no asynchronous invocation is queued, running or waiting to retry. */
  settled(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.push(r))
  }

  private async run(l: Loaded, body: Buffer, requestId: string): Promise<void> {
    const { settings: s, invocations } = this.o
    await new Promise((r) => setImmediate(r))
    const attempts = 1 + (l.fn.maxAsyncRetryAttempts ?? 3)
    let lastError: ErrorBody | undefined
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await runHandler(l, body, contextFor(l, requestId, s), s)
        invocations.push({ requestId, functionName: l.fn.name, type: 'Async', attempt, outcome: 'ok' })
        return
      } catch (err) {
        lastError = errorBody(err)
        invocations.push({ requestId, functionName: l.fn.name, type: 'Async', attempt, outcome: 'error', error: lastError.errorMessage })
        s.print(
          redact(
            `${new Date().toISOString()} ${requestId} [error] async attempt ${attempt} of ${attempts} failed: ${lastError.errorMessage}`,
          ),
        )
        if (attempt < attempts) await new Promise((r) => setTimeout(r, this.o.retryDelayMs))
      }
    }
    if (l.fn.onFailure !== undefined) await this.toDestination(l, body, requestId, attempts, lastError)
  }

  private async toDestination(
    l: Loaded,
    body: Buffer,
    requestId: string,
    attempts: number,
    lastError: ErrorBody | undefined,
  ): Promise<void> {
    const { settings: s, invocations } = this.o
    const destination = this.o.loaded.get(l.fn.onFailure!)!
    const record = {
      timestamp: Date.now(),
      requestContext: {
        requestId,
        functionArn: `acs:fc:${s.region}:${s.accountId}:functions/${l.fn.name}`,
        condition: 'UnhandledInvocationError',
        approximateInvokeCount: attempts,
      },
      requestPayload: body.toString('utf8'),
      responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
      responsePayload: JSON.stringify(lastError),
    }
    const destId = newRequestId()
    const name = destination.fn.name
    try {
      await runHandler(destination, Buffer.from(JSON.stringify(record)), contextFor(destination, destId, s), s)
      invocations.push({ requestId: destId, functionName: name, type: 'Destination', attempt: 1, outcome: 'ok' })
    } catch (err) {
      const e = errorBody(err)
      invocations.push({ requestId: destId, functionName: name, type: 'Destination', attempt: 1, outcome: 'error', error: e.errorMessage })
      s.print(redact(`${new Date().toISOString()} ${destId} [error] onFailure destination ${name} failed: ${e.errorMessage}`))
    }
  }
}
