// The functions the local invoke server serves: bundles loaded once, a Function Compute-shaped context per
// invocation, each run within its timeout, the initializer once per instance and preStop when the server
// stops (docs/platform-facts.md §6), and the bounded record of every invocation. Asynchronous invocations
// run later, retried, then routed to onFailure (§5); the queue is bounded: when full, a new invocation gets
// 429 before its body is read, as Function Compute throttles.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { InvokeRefusal, messageOf } from '../../shared/errors.js'
import type { FcContext, FcCredentials } from '../../shared/fc/context.js'
import { redact } from '../../shared/logging/secrets.js'

export interface LocalFunction {
  name: string
  /** Directory holding the built bundle (index.js), e.g. dist/bridge. */
  dir: string
  /** `file.export`s; defaults: index.handler, index.initialize when exported, no preStop. */
  handler?: string
  initializer?: string
  preStop?: string
  /** Seconds: preStop 10, the handler 60 by default. */
  preStopTimeout?: number
  timeout?: number
  /** MB; default 512. */
  memory?: number
  /** Retries after the first asynchronous attempt; default 3. */
  maxAsyncRetryAttempts?: number
  /** The function that receives the destination record. */
  onFailure?: string
  /** Served at /http/<name>; authType function: signed requests only. */
  httpTrigger?: { methods: string[]; authType: string }
}

type Hook = (context: FcContext) => unknown

export interface Loaded {
  fn: LocalFunction
  handler: (event: Buffer, context: FcContext) => unknown
  initializer?: Hook
  preStop?: Hook
  initialized?: Promise<void>
  /** Set once an invocation ran: preStop runs only for instances that started. */
  started: boolean
}

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

export class InvocationLog extends Array<InvocationRecord> {
  override push(...items: InvocationRecord[]): number {
    super.push(...items)
    if (this.length > MAX_INVOCATION_RECORDS) this.splice(0, this.length - MAX_INVOCATION_RECORDS)
    return this.length
  }
}

export interface ContextSettings {
  credentials: FcCredentials
  region: string
  accountId: string
  print: (line: string) => void
  invocations: InvocationLog
}

export const newRequestId = () => `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`

/** A log line as Function Compute prints it, redacted; `tail` collects it for x-fc-log-type: Tail. */
export function logLine(s: ContextSettings, requestId: string, level: string, message: string, tail?: string[]): void {
  const text = redact(`${new Date().toISOString()} ${requestId} [${level}] ${message}`)
  tail?.push(text)
  s.print(text)
}

export type ErrorBody = { errorMessage: string; errorType: string; stackTrace: string[] }

function exported<F = Hook>(dir: string, spec: string, fallback: string, required: boolean): F | undefined {
  const [file = 'index', name = fallback] = spec.split('.')
  const value = (createRequire(import.meta.url)(resolve(join(dir, `${file}.js`))) as Record<string, unknown>)[name]
  if (typeof value === 'function') return value as F
  if (required) throw new Error(`${dir}/${file}.js does not export ${name}`)
  return undefined
}

export function loadFunctions(functions: LocalFunction[]): Map<string, Loaded> {
  const loaded = new Map<string, Loaded>()
  for (const fn of functions) {
    const handler = exported<Loaded['handler']>(fn.dir, fn.handler ?? 'index.handler', 'handler', true)!
    const initializer = exported(fn.dir, fn.initializer ?? 'index.initialize', 'initialize', fn.initializer !== undefined)
    const preStop = fn.preStop === undefined ? undefined : exported(fn.dir, fn.preStop, 'preStop', true)
    loaded.set(fn.name, { fn, handler, started: false, ...(initializer ? { initializer } : {}), ...(preStop ? { preStop } : {}) })
  }
  for (const fn of functions) {
    if (fn.onFailure !== undefined && !loaded.has(fn.onFailure))
      throw new Error(`${fn.name}: onFailure destination ${fn.onFailure} is not one of the served functions`)
  }
  return loaded
}

function contextFor(l: Loaded, requestId: string, s: ContextSettings, tail?: string[]): FcContext {
  const line = (level: string) => (message: string) => logLine(s, requestId, level, message, tail)
  return {
    requestId,
    credentials: { ...s.credentials },
    function: { name: l.fn.name, handler: l.fn.handler ?? 'index.handler', memory: l.fn.memory ?? 512, timeout: l.fn.timeout ?? 60 },
    service: {},
    region: s.region,
    accountId: s.accountId,
    logger: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') },
  }
}

/** Rejects after `seconds` with Function Compute's timeout error, unless `work` settles first. */
async function within<T>(work: () => unknown, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    const error = Object.assign(new Error(`${what} timed out after ${seconds} seconds`), { name: 'FunctionTimeoutError' })
    timer = setTimeout(() => reject(error), seconds * 1000)
  })
  try {
    return (await Promise.race([Promise.resolve().then(work), timeout])) as T
  } finally {
    clearTimeout(timer)
  }
}

/** One invocation, recorded, after the initializer; a result `shape` cannot turn into the answer is its error. */
export async function runHandler<T = unknown>(
  l: Loaded,
  body: Buffer,
  s: ContextSettings,
  call: { requestId: string; type: InvocationRecord['type']; attempt?: number; tail?: string[]; shape?: (result: unknown) => T },
): Promise<{ ok: true; value: T } | { ok: false; error: ErrorBody }> {
  const record = { requestId: call.requestId, functionName: l.fn.name, type: call.type, attempt: call.attempt ?? 1 }
  try {
    l.started = true
    if (l.initializer) {
      // The initializer has its own request ID, as on Function Compute.
      const init = l.initializer
      l.initialized ??= Promise.resolve(init(contextFor(l, `${call.requestId}-init`, s))).then(() => undefined)
      // Function Compute runs a failed initializer again on the next invocation.
      await l.initialized.catch((err: unknown) => {
        l.initialized = undefined
        throw err
      })
    }
    const context = contextFor(l, call.requestId, s, call.tail)
    const result = await within(() => l.handler(body, context), l.fn.timeout ?? 60, 'Function')
    const value = (call.shape ? call.shape(result) : result) as T
    s.invocations.push({ ...record, outcome: 'ok' })
    return { ok: true, value }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    const stackTrace = (e.stack ?? '')
      .split('\n')
      .slice(1, 6)
      .map((line) => redact(line.trim()))
    const error: ErrorBody = { errorMessage: redact(e.message), errorType: e.name, stackTrace }
    s.invocations.push({ ...record, outcome: 'error', error: error.errorMessage })
    return { ok: false, error }
  }
}

/** The preStop hook of an instance that started, within its timeout; a failure is printed, never thrown. */
export async function runPreStop(l: Loaded, s: ContextSettings): Promise<void> {
  if (!l.preStop || !l.started) return
  const hook = l.preStop
  const requestId = `${newRequestId()}-prestop`
  // The instance is gone: a later invocation starts a new one, initializer included.
  l.started = false
  l.initialized = undefined
  try {
    await within(() => hook(contextFor(l, requestId, s)), l.fn.preStopTimeout ?? 10, 'preStop')
  } catch (err) {
    logLine(s, requestId, 'error', `preStop of ${l.fn.name} failed: ${messageOf(err)}`)
  }
}

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
