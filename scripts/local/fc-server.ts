// A local stand-in for Function Compute, serving the BUILT bundles (dist/<fn>/index.js):
//
//   POST /2023-03-30/functions/<name>/invocations    the invoke API; x-fc-invocation-type: Sync (default) | Async
//   <method> /http/<name>[/path][?query]             the function's HTTP trigger, as its trigger URL serves it
//
// Sync returns the handler's result (a thrown error: 200 with x-fc-error-type, as Function Compute does);
// Async returns 202 at once and runs later (fc-functions.ts).
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvokeRefusal, messageOf } from '../../shared/errors.js'
import type { FcCredentials } from '../../shared/fc/context.js'
import { loadFc2 } from '../../shared/fc/invoke.js'
import { redact, registerSecret } from '../../shared/logging/secrets.js'
import {
  AsyncQueue,
  type ContextSettings,
  InvocationLog,
  type LocalFunction,
  loadFunctions,
  newRequestId,
  runHandler,
  runPreStop,
} from './fc-functions.js'
import {
  type HttpAnswer,
  type HttpTriggerRequest,
  httpTriggerAnswer,
  httpTriggerEvent,
  matchHttpTrigger,
  serialise,
} from './fc-http-trigger.js'
import { decodeSegment, missingAuthorization, readBody, refuseUnsignedForeign, verifyBody, verifySignature } from './fc-request-checks.js'
import { LOCAL_ACCOUNT_ID } from './start-options.js'

/** A 405, which names the methods that are allowed (RFC 9110 §15.5.6: a 405 carries Allow). */
const methodRefusal = (allow: string[], message: string) => Object.assign(new InvokeRefusal(405, 'MethodNotAllowed', message), { allow })

export const API_VERSION = '2023-03-30'
/** Function Compute's request body limits (docs/platform-facts.md §4). */
const SYNC_LIMIT = 32 * 1024 * 1024
const ASYNC_LIMIT = 128 * 1024

const INVOKE_PATH = new RegExp(`^/${API_VERSION}/functions/([^/]+)/invocations$`)

export interface LocalFcOptions {
  functions: LocalFunction[]
  /** The key the clients sign with, and the functions' context.credentials. */
  credentials: FcCredentials
  port?: number
  accountId?: string
  region?: string
  /** Delay before each asynchronous retry; default 1000 ms (Function Compute's are longer). */
  asyncRetryDelayMs?: number
  /** Asynchronous invocations kept at once before new ones get 429; default 100. */
  asyncQueueLimit?: number
  /** Where context.logger lines and the server's own lines go; default stdout. */
  log?: (line: string) => void
  /** Accept requests without Authorization (curl by hand) unless they come from a web page; only `npm start` sets it. */
  allowUnsigned?: boolean
}

export type LocalFc = Awaited<ReturnType<typeof startLocalFc>>

export async function startLocalFc(options: LocalFcOptions) {
  const FCClient = await loadFc2()
  const creds = options.credentials
  registerSecret(creds.accessKeySecret)
  registerSecret(creds.securityToken)
  const print = options.log ?? ((line: string) => process.stdout.write(line + '\n'))
  const invocations = new InvocationLog()
  const settings: ContextSettings = {
    credentials: creds,
    region: options.region ?? 'cn-hangzhou',
    accountId: options.accountId ?? LOCAL_ACCOUNT_ID,
    print,
    invocations,
  }
  const loaded = loadFunctions(options.functions)
  const queue = new AsyncQueue(loaded, settings, options.asyncRetryDelayMs ?? 1000, options.asyncQueueLimit ?? 100)
  let listening = ''

  /** Signed: verified. Unsigned: accepted only where allowed, and never from a web page. Returns whether it was signed. */
  function authenticate(req: IncomingMessage, path: string, queries: Record<string, string> | null, anonymous: boolean): boolean {
    if (req.headers.authorization !== undefined) {
      verifySignature(req, path, queries, creds, FCClient.getSignature)
      return true
    }
    if (!options.allowUnsigned && !anonymous) throw missingAuthorization()
    refuseUnsignedForeign(req, listening)
    return false
  }

  async function invoke(req: IncomingMessage, url: URL, name: string): Promise<HttpAnswer> {
    if (req.method !== 'POST') throw methodRefusal(['POST'], `invoke with POST, not ${req.method}`)
    const signed = authenticate(req, url.pathname, null, false)
    const l = loaded.get(name)
    if (!l)
      throw new InvokeRefusal(404, 'FunctionNotFound', `function ${name} does not exist here (served: ${[...loaded.keys()].join(', ')})`)
    const type = String(req.headers['x-fc-invocation-type'] ?? 'Sync')
    if (type !== 'Sync' && type !== 'Async')
      throw new InvokeRefusal(400, 'InvalidArgument', `x-fc-invocation-type must be Sync or Async, not ${type}`)
    const requestId = newRequestId()
    if (type === 'Async') queue.checkRoom()
    const body = await readBody(req, type === 'Async' ? ASYNC_LIMIT : SYNC_LIMIT, type === 'Async' ? 'asynchronous' : 'synchronous')
    if (signed) verifyBody(req, body)
    if (type === 'Async') {
      queue.enqueue(l, body, requestId)
      return { status: 202, headers: { 'x-fc-request-id': requestId }, body: Buffer.alloc(0) }
    }
    const tail: string[] = []
    const r = await runHandler(l, body, settings, { requestId, type: 'Sync', tail, shape: serialise })
    const headers: Record<string, string> = { 'x-fc-request-id': requestId }
    if (!r.ok)
      headers['x-fc-error-type'] = r.error.errorType === 'FunctionTimeoutError' ? 'FunctionTimeoutError' : 'UnhandledInvocationError'
    if (req.headers['x-fc-log-type'] === 'Tail')
      headers['x-fc-log-result'] = Buffer.from(tail.join('\n')).subarray(-4096).toString('base64')
    const { payload, contentType } = r.ok
      ? r.value
      : { payload: Buffer.from(redact(JSON.stringify(r.error))), contentType: 'application/json' }
    return { status: 200, headers: { ...headers, 'content-type': contentType }, body: payload }
  }

  async function trigger(req: IncomingMessage, url: URL, t: HttpTriggerRequest): Promise<HttpAnswer> {
    const l = loaded.get(t.functionName)
    const http = l?.fn.httpTrigger
    // The query is signed as the SDK signs a proxied path's (docs/platform-facts.md §7), when there is one.
    const queries = url.search === '' ? null : Object.fromEntries(url.searchParams)
    const signed = authenticate(req, url.pathname, queries, http?.authType === 'anonymous')
    if (!l || !http) throw new InvokeRefusal(404, 'TriggerNotFound', `function ${t.functionName} has no HTTP trigger here`)
    const method = req.method ?? 'GET'
    if (!http.methods.includes(method))
      throw methodRefusal(http.methods, `the HTTP trigger of ${t.functionName} takes ${http.methods.join(', ')}, not ${method}`)
    const body = await readBody(req, SYNC_LIMIT, 'synchronous')
    if (signed) verifyBody(req, body)
    const requestId = newRequestId()
    const event = httpTriggerEvent(req, t, body, { requestId, accountId: settings.accountId, domainName: listening })
    const r = await runHandler(l, event, settings, { requestId, type: 'Http', shape: httpTriggerAnswer })
    // 502: the function failed, not the request.
    const answer = r.ok
      ? r.value
      : {
          status: 502,
          headers: { 'content-type': 'application/json', 'x-fc-error-type': 'UnhandledInvocationError' },
          body: Buffer.from(redact(JSON.stringify(r.error))),
        }
    return { ...answer, headers: { ...answer.headers, 'x-fc-request-id': requestId } }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const match = INVOKE_PATH.exec(url.pathname)
    const t = match ? undefined : matchHttpTrigger(url)
    let answer: HttpAnswer
    if (match) answer = await invoke(req, url, decodeSegment(match[1]!, url.pathname))
    else if (t) answer = await trigger(req, url, t)
    else
      throw new InvokeRefusal(
        404,
        'PathNotSupported',
        `this server serves POST /${API_VERSION}/functions/<name>/invocations and /http/<name>, not ${req.method} ${url.pathname}`,
      )
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) })
    res.end(answer.body)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => refuse(req, res, err))
  })

  function refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const refusal = err instanceof InvokeRefusal ? err : new InvokeRefusal(500, 'InternalServerError', messageOf(err))
    // A refused request may come from anywhere (a web page, a flood): its URL is cut short wherever it goes.
    const shown = (req.url ?? '').length > 200 ? `${(req.url ?? '').slice(0, 200)}…` : (req.url ?? '')
    const error = `${refusal.code}: ${refusal.message}`
    invocations.push({ requestId: 'refused', functionName: shown, type: 'Sync', attempt: 0, outcome: 'refused', error })
    print(redact(`${new Date().toISOString()} - [warn] refused ${req.method} ${shown}: ${refusal.status} ${error}`))
    if (res.headersSent) return void res.end()
    const body = JSON.stringify({ ErrorCode: refusal.code, ErrorMessage: redact(refusal.message) })
    res.writeHead(refusal.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-fc-request-id': newRequestId(),
      ...('allow' in refusal ? { allow: (refusal.allow as string[]).join(', ') } : {}),
      // A body not read yet is not worth reading: close once the answer is out.
      ...(req.complete ? {} : { connection: 'close' }),
    })
    res.end(body)
  }

  await once(server.listen(options.port ?? 0, '127.0.0.1'), 'listening')
  const port = (server.address() as AddressInfo).port
  listening = `127.0.0.1:${port}`

  return {
    url: `http://${listening}`,
    port,
    accountId: settings.accountId,
    region: settings.region,
    /** Every invocation and refusal so far. */
    invocations,
    /** Resolves when no asynchronous invocation is queued, running or waiting to retry. */
    settled: () => queue.settled(),
    /** Runs the preStop hook of every function instance that started, then stops serving. */
    async close() {
      for (const l of loaded.values()) await runPreStop(l, settings)
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
