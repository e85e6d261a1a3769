// The functions the local invoke server serves: their built bundles loaded once, a Function Compute-shaped
// context per invocation, the handler run within the function's timeout, and the lifecycle hooks as
// Function Compute runs them: the initializer once before the first invocation, preStop when the instance
// goes (here: when the server stops), each within its own timeout (docs/platform-facts.md §6).
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { messageOf } from '../../shared/errors.js'
import type { FcContext, FcCredentials } from '../../shared/fc/context.js'
import type { FcLogger } from '../../shared/logging/logger.js'
import { redact } from '../../shared/logging/secrets.js'

export interface LocalFunction {
  name: string
  /** Directory holding the built bundle (index.js), e.g. dist/bridge. */
  dir: string
  /** `file.export`; default index.handler. */
  handler?: string
  /** `file.export` of the initializer, run once before the first invocation; default index.initialize when exported. */
  initializer?: string
  /** `file.export` of the preStop hook, run when the server stops, if the function ran; none by default. */
  preStop?: string
  /** Seconds the preStop hook may take; default 10. */
  preStopTimeout?: number
  /** Seconds; default 60. */
  timeout?: number
  /** MB; default 512. */
  memory?: number
  /** Asynchronous retries after the first attempt (Function Compute's maxAsyncRetryAttempts); default 3. */
  maxAsyncRetryAttempts?: number
  /** asyncInvokeConfig.destinationConfig.onFailure: the function that receives the destination record. */
  onFailure?: string
  /** An HTTP trigger, served at /http/<name>: the methods it takes and its authType (function: signed requests only). */
  httpTrigger?: { methods: string[]; authType: string }
}

type Handler = (event: Buffer, context: FcContext) => unknown
type Hook = (context: FcContext) => unknown

export interface Loaded {
  fn: LocalFunction
  handler: Handler
  initializer?: Hook
  preStop?: Hook
  initialized?: Promise<void>
  /** Whether an instance exists: set once an invocation ran, so preStop runs only for instances that started. */
  started: boolean
}

export const newRequestId = () => `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`

/** `file.export` of a bundle directory: the exported function, or an error naming what is missing. */
function exported(dir: string, spec: string, fallbackExport: string, required: boolean, cache: Map<string, Record<string, unknown>>) {
  const [file = 'index', name = fallbackExport] = spec.split('.')
  const path = resolve(join(dir, `${file}.js`))
  let mod = cache.get(path)
  if (!mod) {
    mod = createRequire(import.meta.url)(path) as Record<string, unknown>
    cache.set(path, mod)
  }
  const value = mod[name]
  if (typeof value !== 'function') {
    if (required) throw new Error(`${dir}/${file}.js does not export ${name}`)
    return undefined
  }
  return value
}

export function loadFunctions(functions: LocalFunction[]): Map<string, Loaded> {
  const loaded = new Map<string, Loaded>()
  for (const fn of functions) {
    const cache = new Map<string, Record<string, unknown>>()
    const handler = exported(fn.dir, fn.handler ?? 'index.handler', 'handler', true, cache) as Handler
    const initializer = exported(fn.dir, fn.initializer ?? 'index.initialize', 'initialize', fn.initializer !== undefined, cache) as
      | Hook
      | undefined
    const preStop = fn.preStop === undefined ? undefined : (exported(fn.dir, fn.preStop, 'preStop', true, cache) as Hook)
    loaded.set(fn.name, { fn, handler, started: false, ...(initializer ? { initializer } : {}), ...(preStop ? { preStop } : {}) })
  }
  for (const fn of functions) {
    if (fn.onFailure !== undefined && !loaded.has(fn.onFailure))
      throw new Error(`${fn.name}: onFailure destination ${fn.onFailure} is not one of the served functions`)
  }
  return loaded
}

export interface ContextSettings {
  credentials: FcCredentials
  region: string
  accountId: string
  print: (line: string) => void
}

/** A context as Function Compute builds it; `tail` collects the log lines for x-fc-log-type: Tail. */
export function contextFor(l: Loaded, requestId: string, s: ContextSettings, tail?: string[]): FcContext {
  const line = (level: string) => (message: string) => {
    const text = redact(`${new Date().toISOString()} ${requestId} [${level}] ${message}`)
    tail?.push(text)
    s.print(text)
  }
  const logger: FcLogger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }
  return {
    requestId,
    credentials: { ...s.credentials },
    function: { name: l.fn.name, handler: l.fn.handler ?? 'index.handler', memory: l.fn.memory ?? 512, timeout: l.fn.timeout ?? 60 },
    service: {},
    region: s.region,
    accountId: s.accountId,
    logger,
  }
}

/** Rejects after `seconds` with Function Compute's timeout error, unless `work` settles first. */
async function within<T>(work: () => unknown, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return (await Promise.race([
      Promise.resolve().then(work),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error(`${what} timed out after ${seconds} seconds`), { name: 'FunctionTimeoutError' })),
          seconds * 1000,
        )
      }),
    ])) as T
  } finally {
    clearTimeout(timer)
  }
}

/** Runs the handler once, within the function's timeout, after the initializer (once per instance). */
export async function runHandler(l: Loaded, body: Buffer, context: FcContext, s: ContextSettings): Promise<unknown> {
  l.started = true
  if (l.initializer) {
    // The initializer's own request ID, in its context and in its log lines, as on Function Compute.
    const init = l.initializer
    l.initialized ??= Promise.resolve(init(contextFor(l, `${context.requestId}-init`, s))).then(() => undefined)
    try {
      await l.initialized
    } catch (err) {
      l.initialized = undefined // Function Compute runs a failed initializer again on the next invocation
      throw err
    }
  }
  return within(() => l.handler(body, context), l.fn.timeout ?? 60, 'Function')
}

/** The preStop hook of an instance that started, within its timeout; a failure is printed, never thrown. */
export async function runPreStop(l: Loaded, s: ContextSettings): Promise<void> {
  if (!l.preStop || !l.started) return
  const hook = l.preStop
  const requestId = `${newRequestId()}-prestop`
  // The instance is gone after this: a later invocation starts a new one, initializer included.
  l.started = false
  l.initialized = undefined
  try {
    await within(() => hook(contextFor(l, requestId, s)), l.fn.preStopTimeout ?? 10, 'preStop')
  } catch (err) {
    s.print(redact(`${new Date().toISOString()} ${requestId} [error] preStop of ${l.fn.name} failed: ${messageOf(err)}`))
  }
}
