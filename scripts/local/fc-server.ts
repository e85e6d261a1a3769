// A local stand-in for Function Compute, serving the BUILT bundles (dist/<fn>/index.js):
//
//   POST /2023-03-30/functions/<name>/invocations    the invoke API; x-fc-invocation-type: Sync (default) | Async
//   <method> /http/<name>[/path][?query]             the function's HTTP trigger, as its trigger URL serves it
//
// Requests are signed as @alicloud/fc2 signs them: the Authorization header is recomputed with the SDK's own
// FCClient.getSignature, Content-MD5 must match the body (an empty one too), the STS token must match when
// one is configured. Path, method and signature are checked before a byte of the body is read, and bodies
// are bounded (fc-body.ts). Sync returns the handler's result (a thrown error: 200 with x-fc-error-type, as
// Function Compute does); Async returns 202 at once and runs later (fc-async.ts, a bounded queue). Only
// `npm start` sets allowUnsigned, so that a hand-typed curl works; even then an unsigned request that
// carries Origin or a foreign Host is refused, so a web page cannot drive it (fc-request-checks.ts).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvokeRefusal, messageOf } from '../../shared/errors.js'
import type { FcCredentials } from '../../shared/fc/context.js'
import { loadFc2 } from '../../shared/fc/invoke.js'
import { redact, registerSecret } from '../../shared/logging/secrets.js'
import { AsyncQueue, errorBody, InvocationLog, type InvocationRecord } from './fc-async.js'
import { readBody } from './fc-body.js'
import {
  type ContextSettings,
  contextFor,
  type Loaded,
  type LocalFunction,
  loadFunctions,
  newRequestId,
  runHandler,
  runPreStop,
} from './fc-functions.js'
import { type HttpTriggerRequest, httpTriggerAnswer, httpTriggerEvent, matchHttpTrigger } from './fc-http-trigger.js'
import { decodePath, hostHeader, refuseUnsignedForeign, verifyBody, verifySignature } from './fc-request-checks.js'

/** A 405, which names the methods that are allowed (RFC 9110 §15.5.6: a 405 carries Allow). */
class MethodRefusal extends InvokeRefusal {
  constructor(
    readonly allow: readonly string[],
    message: string,
  ) {
    super(405, 'MethodNotAllowed', message)
  }
}

export type { InvocationRecord } from './fc-async.js'
export type { LocalFunction } from './fc-functions.js'

export const API_VERSION = '2023-03-30'
/** Function Compute's request body limits (docs/platform-facts.md §4). */
export const SYNC_LIMIT = 32 * 1024 * 1024
export const ASYNC_LIMIT = 128 * 1024
/** Asynchronous invocations kept at once (queued, running or waiting to retry) before 429. */
export const DEFAULT_ASYNC_QUEUE_LIMIT = 100

const INVOKE_PATH = new RegExp(`^/${API_VERSION}/functions/([^/]+)/invocations$`)

export interface LocalFcOptions {
  functions: LocalFunction[]
  /** The key the clients sign with; the same credentials are handed to the functions in their context. */
  credentials: FcCredentials
  port?: number
  host?: string
  accountId?: string
  region?: string
  /** Delay before each asynchronous retry; default 1000 ms (Function Compute's are longer). */
  asyncRetryDelayMs?: number
  /** Asynchronous invocations kept at once before new ones get 429; default 100. */
  asyncQueueLimit?: number
  /** Where context.logger lines and the server's own lines go; default stdout. */
  log?: (line: string) => void
  /**
   * Accept requests that carry no Authorization header (for curl by hand), as long as they carry no Origin
   * and name the listening address as Host. A signed request is still verified. Function Compute itself
   * never does this; only `npm start` sets it.
   */
  allowUnsigned?: boolean
}

export interface LocalFc {
  url: string
  port: number
  accountId: string
  region: string
  /** Every invocation and refusal so far. */
  invocations: InvocationRecord[]
  /** Resolves when no asynchronous invocation is queued, running or waiting to retry. */
  settled(): Promise<void>
  /** Runs the preStop hook of every function instance that started (as Function Compute does when it reclaims one), then stops serving. */
  close(): Promise<void>
}

export async function startLocalFc(options: LocalFcOptions): Promise<LocalFc> {
  const FCClient = await loadFc2()
  const creds = options.credentials
  registerSecret(creds.accessKeySecret)
  registerSecret(creds.securityToken)
  const print = options.log ?? ((line: string) => process.stdout.write(line + '\n'))
  const settings: ContextSettings = {
    credentials: creds,
    region: options.region ?? 'cn-hangzhou',
    accountId: options.accountId ?? '1234567890123456',
    print,
  }
  const invocations = new InvocationLog()
  const loaded = loadFunctions(options.functions)
  const queue = new AsyncQueue({
    loaded,
    settings,
    invocations,
    retryDelayMs: options.asyncRetryDelayMs ?? 1000,
    limit: options.asyncQueueLimit ?? DEFAULT_ASYNC_QUEUE_LIMIT,
  })
  let listening = ''

  /** Signed: verified. Unsigned: accepted only where allowed, and never from a web page. Returns whether it was signed. */
  function authenticate(req: IncomingMessage, path: string, queries: Record<string, string> | null, anonymous: boolean): boolean {
    if (req.headers.authorization !== undefined) {
      verifySignature(req, path, queries, creds, FCClient.getSignature)
      return true
    }
    if (!options.allowUnsigned && !anonymous)
      throw new InvokeRefusal(
        401,
        'MissingAuthorization',
        'the request has no Authorization header of the form "FC <AccessKeyId>:<signature>"',
      )
    refuseUnsignedForeign(req, listening)
    return false
  }

  function lookUp(name: string): Loaded {
    const l = loaded.get(name)
    if (!l)
      throw new InvokeRefusal(404, 'FunctionNotFound', `function ${name} does not exist here (served: ${[...loaded.keys()].join(', ')})`)
    return l
  }

  async function invoke(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (req.method !== 'POST') throw new MethodRefusal(['POST'], `invoke with POST, not ${req.method}`)
    const signed = authenticate(req, url.pathname, null, false)
    const l = lookUp(name)
    const type = String(req.headers['x-fc-invocation-type'] ?? 'Sync')
    if (type !== 'Sync' && type !== 'Async')
      throw new InvokeRefusal(400, 'InvalidArgument', `x-fc-invocation-type must be Sync or Async, not ${type}`)
    const requestId = newRequestId()

    if (type === 'Async') {
      queue.checkRoom()
      const body = await readBody(req, ASYNC_LIMIT, 'asynchronous')
      if (signed) verifyBody(req, body)
      queue.enqueue(l, body, requestId)
      res.writeHead(202, { 'x-fc-request-id': requestId, 'content-length': '0' })
      res.end()
      return
    }

    const body = await readBody(req, SYNC_LIMIT, 'synchronous')
    if (signed) verifyBody(req, body)
    const tail: string[] = []
    const extra: Record<string, string> = { 'x-fc-request-id': requestId }
    let payload: Buffer
    let contentType: string
    try {
      const result = await runHandler(l, body, contextFor(l, requestId, settings, tail), settings)
      ;({ payload, contentType } = serialise(result))
      invocations.push({ requestId, functionName: name, type: 'Sync', attempt: 1, outcome: 'ok' })
    } catch (err) {
      const e = errorBody(err)
      extra['x-fc-error-type'] = e.errorType === 'FunctionTimeoutError' ? 'FunctionTimeoutError' : 'UnhandledInvocationError'
      payload = Buffer.from(redact(JSON.stringify(e)))
      contentType = 'application/json'
      invocations.push({ requestId, functionName: name, type: 'Sync', attempt: 1, outcome: 'error', error: e.errorMessage })
    }
    if (req.headers['x-fc-log-type'] === 'Tail') extra['x-fc-log-result'] = Buffer.from(tail.join('\n')).subarray(-4096).toString('base64')
    res.writeHead(200, { ...extra, 'content-type': contentType, 'content-length': String(payload.length) })
    res.end(payload)
  }

  async function trigger(req: IncomingMessage, res: ServerResponse, url: URL, t: HttpTriggerRequest): Promise<void> {
    const l = loaded.get(t.functionName)
    const http = l?.fn.httpTrigger
    // The query is signed as the SDK signs a proxied path's (docs/platform-facts.md §7), when there is one.
    const queries = url.search === '' ? null : Object.fromEntries(url.searchParams)
    const signed = authenticate(req, url.pathname, queries, http?.authType === 'anonymous')
    if (!l || !http) throw new InvokeRefusal(404, 'TriggerNotFound', `function ${t.functionName} has no HTTP trigger here`)
    const method = req.method ?? 'GET'
    if (!http.methods.includes(method))
      throw new MethodRefusal(http.methods, `the HTTP trigger of ${t.functionName} takes ${http.methods.join(', ')}, not ${method}`)
    const body = await readBody(req, SYNC_LIMIT, 'synchronous')
    if (signed) verifyBody(req, body)
    const requestId = newRequestId()
    const event = httpTriggerEvent(req, t, body, { requestId, accountId: settings.accountId, domainName: listening })
    let answer: { status: number; headers: Record<string, string>; body: Buffer }
    try {
      answer = httpTriggerAnswer(await runHandler(l, event, contextFor(l, requestId, settings), settings))
      invocations.push({ requestId, functionName: l.fn.name, type: 'Http', attempt: 1, outcome: 'ok' })
    } catch (err) {
      const e = errorBody(err)
      // 502: the function failed, not the request.
      answer = {
        status: 502,
        headers: { 'content-type': 'application/json', 'x-fc-error-type': 'UnhandledInvocationError' },
        body: Buffer.from(redact(JSON.stringify(e))),
      }
      invocations.push({ requestId, functionName: l.fn.name, type: 'Http', attempt: 1, outcome: 'error', error: e.errorMessage })
    }
    res.writeHead(answer.status, { ...answer.headers, 'x-fc-request-id': requestId, 'content-length': String(answer.body.length) })
    res.end(answer.body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const match = INVOKE_PATH.exec(url.pathname)
    if (match)
      return invoke(
        req,
        res,
        url,
        decodePath(() => decodeURIComponent(match[1]!), url.pathname),
      )
    const t = decodePath(() => matchHttpTrigger(url), url.pathname)
    if (t) return trigger(req, res, url, t)
    throw new InvokeRefusal(
      404,
      'PathNotSupported',
      `this server serves POST /${API_VERSION}/functions/<name>/invocations and /http/<name>, not ${req.method} ${url.pathname}`,
    )
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => refuse(req, res, err))
  })

  function refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const refusal = err instanceof InvokeRefusal ? err : new InvokeRefusal(500, 'InternalServerError', messageOf(err))
    // A refused request may come from anywhere (a web page, a flood): its URL is cut short wherever it goes.
    const shown = (req.url ?? '').length > 200 ? `${(req.url ?? '').slice(0, 200)}…` : (req.url ?? '')
    invocations.push({
      requestId: 'refused',
      functionName: shown,
      type: 'Sync',
      attempt: 0,
      outcome: 'refused',
      error: `${refusal.code}: ${refusal.message}`,
    })
    print(
      redact(`${new Date().toISOString()} - [warn] refused ${req.method} ${shown}: ${refusal.status} ${refusal.code}: ${refusal.message}`),
    )
    if (res.headersSent) return void res.end()
    const body = JSON.stringify({ ErrorCode: refusal.code, ErrorMessage: redact(refusal.message) })
    res.writeHead(refusal.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-fc-request-id': newRequestId(),
      ...(refusal instanceof MethodRefusal ? { allow: refusal.allow.join(', ') } : {}),
      // A body not read yet is not worth reading: close once the answer is out.
      ...(req.complete ? {} : { connection: 'close' }),
    })
    res.end(body)
  }

  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(options.port ?? 0, host, () => ok())
  })
  const port = (server.address() as AddressInfo).port
  listening = hostHeader(host, port)

  return {
    url: `http://${listening}`,
    port,
    accountId: settings.accountId,
    region: settings.region,
    invocations,
    settled: () => queue.settled(),
    async close() {
      for (const l of loaded.values()) await runPreStop(l, settings)
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

function serialise(result: unknown): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(result)) return { payload: result, contentType: 'application/octet-stream' }
  if (typeof result === 'string') return { payload: Buffer.from(result), contentType: 'text/plain; charset=utf-8' }
  if (result === undefined) return { payload: Buffer.alloc(0), contentType: 'text/plain; charset=utf-8' }
  return { payload: Buffer.from(JSON.stringify(result)), contentType: 'application/json' }
}
