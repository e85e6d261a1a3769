// Asynchronous invocations: run later, retried, then routed to onFailure (docs/platform-facts.md §5). The
// queue is bounded: when full, a new invocation gets 429 before its body is read, as Function Compute throttles.
import { InvokeRefusal } from '../../shared/errors.js'
import { type ContextSettings, type ErrorBody, type Loaded, logLine, newRequestId, runHandler } from './fc-functions.js'

export { InvocationLog, type InvocationRecord, MAX_INVOCATION_RECORDS } from './fc-functions.js'

export class AsyncQueue {
  private pending = 0
  private idle: Array<() => void> = []

  constructor(
    private readonly loaded: Map<string, Loaded>,
    private readonly settings: ContextSettings,
    private readonly retryDelayMs: number,
    /** Invocations queued, running or waiting to retry, at most. */
    private readonly limit: number,
  ) {}

  /** Throws 429 when the queue is full: checked before the body is read. */
  checkRoom(): void {
    if (this.pending >= this.limit)
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
      if (--this.pending > 0) return
      for (const w of this.idle.splice(0)) w()
    })
  }

  /** Resolves when no asynchronous invocation is queued, running or waiting to retry. */
  settled(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.push(r))
  }

  private async run(l: Loaded, body: Buffer, requestId: string): Promise<void> {
    const s = this.settings
    await new Promise((r) => setImmediate(r))
    const attempts = 1 + (l.fn.maxAsyncRetryAttempts ?? 3)
    let lastError: ErrorBody | undefined
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const r = await runHandler(l, body, s, { requestId, type: 'Async', attempt })
      if (r.ok) return
      lastError = r.error
      logLine(s, requestId, 'error', `async attempt ${attempt} of ${attempts} failed: ${lastError.errorMessage}`)
      if (attempt < attempts) await new Promise((r) => setTimeout(r, this.retryDelayMs))
    }
    if (l.fn.onFailure === undefined) return
    const destination = this.loaded.get(l.fn.onFailure)!
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
    const r = await runHandler(destination, Buffer.from(JSON.stringify(record)), s, { requestId: destId, type: 'Destination' })
    if (!r.ok) logLine(s, destId, 'error', `onFailure destination ${destination.fn.name} failed: ${r.error.errorMessage}`)
  }
}
