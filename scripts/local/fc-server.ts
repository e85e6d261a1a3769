// A local stand-in for Function Compute's invoke API, serving the BUILT bundles (dist/<fn>/index.js):
//
//   POST /2023-03-30/functions/<name>/invocations    x-fc-invocation-type: Sync (default) | Async
//
// Requests must be signed as @alicloud/fc2 signs them: the Authorization header is recomputed with the
// SDK's own FCClient.getSignature from the method, path and headers and the known access key secret;
// Content-MD5 must match the body, and the STS token must match when one is configured. Sync returns the
// handler's result (a thrown error: 200 with x-fc-error-type, as Function Compute does); Async returns 202
// at once and runs later, with retries, and routes an invocation whose retries ran out to the function's
// onFailure destination with the documented destination record (docs/platform-facts.md §5).
// Used by the tests and by `npm start`, which alone sets allowUnsigned so that a hand-typed curl works.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { InvokeRefusal, messageOf } from '../../shared/errors.js'
import type { FcContext, FcCredentials } from '../../shared/fc/context.js'
import { loadFc2 } from '../../shared/fc/invoke.js'
import type { FcLogger } from '../../shared/logging/logger.js'
import { redact, registerSecret } from '../../shared/logging/secrets.js'

export const API_VERSION = '2023-03-30'
/** Function Compute's request body limits (docs/platform-facts.md §4). */
export const SYNC_LIMIT = 32 * 1024 * 1024
export const ASYNC_LIMIT = 128 * 1024
/** Function Compute refuses requests whose Date is further than this from its clock. */
const CLOCK_SKEW_MS = 15 * 60 * 1000

export interface LocalFunction {
  name: string
  /** Directory holding the built bundle (index.js), e.g. dist/bridge. */
  dir: string
  /** `file.export`; default index.handler. */
  handler?: string
  /** `file.export` of the initializer, run once before the first invocation; default index.initialize when exported. */
  initializer?: string
  /** Seconds; default 60. */
  timeout?: number
  /** MB; default 512. */
  memory?: number
  /** Asynchronous retries after the first attempt (Function Compute's maxAsyncRetryAttempts); default 3. */
  maxAsyncRetryAttempts?: number
  /** asyncInvokeConfig.destinationConfig.onFailure: the function that receives the destination record. */
  onFailure?: string
}

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
  /** Where context.logger lines and the server's own lines go; default stdout. */
  log?: (line: string) => void
  /**
   * Accept requests that carry no Authorization header at all (for curl by hand, on loopback). A request
   * that is signed is still verified. Function Compute itself never does this; only `npm start` sets it.
   */
  allowUnsigned?: boolean
}

export interface InvocationRecord {
  requestId: string
  functionName: string
  type: 'Sync' | 'Async' | 'Destination'
  attempt: number
  outcome: 'ok' | 'error' | 'refused'
  error?: string
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
  close(): Promise<void>
}

type Handler = (event: Buffer, context: FcContext) => unknown

interface Loaded {
  fn: LocalFunction
  handler: Handler
  initializer?: (context: FcContext) => unknown
  initialized?: Promise<void>
}

export async function startLocalFc(options: LocalFcOptions): Promise<LocalFc> {
  const FCClient = await loadFc2()
  const creds = options.credentials
  registerSecret(creds.accessKeySecret)
  registerSecret(creds.securityToken)
  const accountId = options.accountId ?? '1234567890123456'
  const region = options.region ?? 'cn-hangzhou'
  const retryDelay = options.asyncRetryDelayMs ?? 1000
  const print = options.log ?? ((line: string) => process.stdout.write(line + '\n'))
  const invocations: InvocationRecord[] = []
  const require = createRequire(import.meta.url)

  const loaded = new Map<string, Loaded>()
  for (const fn of options.functions) {
    const [file = 'index', exported = 'handler'] = (fn.handler ?? 'index.handler').split('.')
    const mod = require(resolve(join(fn.dir, `${file}.js`))) as Record<string, unknown>
    const handler = mod[exported]
    if (typeof handler !== 'function') throw new Error(`${fn.dir}/${file}.js does not export ${exported}`)
    const [initFile = 'index', initExport = 'initialize'] = (fn.initializer ?? 'index.initialize').split('.')
    const initMod = initFile === file ? mod : (require(resolve(join(fn.dir, `${initFile}.js`))) as Record<string, unknown>)
    const initializer = initMod[initExport]
    if (fn.initializer !== undefined && typeof initializer !== 'function')
      throw new Error(`${fn.dir}/${initFile}.js does not export ${initExport}`)
    loaded.set(fn.name, {
      fn,
      handler: handler as Handler,
      ...(typeof initializer === 'function' ? { initializer: initializer as (c: FcContext) => unknown } : {}),
    })
  }
  for (const fn of options.functions) {
    if (fn.onFailure !== undefined && !loaded.has(fn.onFailure))
      throw new Error(`${fn.name}: onFailure destination ${fn.onFailure} is not one of the served functions`)
  }

  const newRequestId = () => `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`

  function contextFor(l: Loaded, requestId: string, tail?: string[]): FcContext {
    const line = (level: string) => (message: string) => {
      const text = redact(`${new Date().toISOString()} ${requestId} [${level}] ${message}`)
      tail?.push(text)
      print(text)
    }
    const logger: FcLogger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }
    return {
      requestId,
      credentials: { ...creds },
      function: { name: l.fn.name, handler: l.fn.handler ?? 'index.handler', memory: l.fn.memory ?? 512, timeout: l.fn.timeout ?? 60 },
      service: {},
      region,
      accountId,
      logger,
    }
  }

  /** Runs the handler once, within the function's timeout. */
  async function run(l: Loaded, body: Buffer, context: FcContext): Promise<unknown> {
    if (l.initializer) {
      // The initializer's own request ID, in its context and in its log lines, as on Function Compute.
      l.initialized ??= Promise.resolve(l.initializer(contextFor(l, `${context.requestId}-init`))).then(() => undefined)
      try {
        await l.initialized
      } catch (err) {
        l.initialized = undefined // Function Compute runs a failed initializer again on the next invocation
        throw err
      }
    }
    const timeoutMs = (l.fn.timeout ?? 60) * 1000
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        Promise.resolve().then(() => l.handler(body, context)),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(Object.assign(new Error(`Function timed out after ${l.fn.timeout ?? 60} seconds`), { name: 'FunctionTimeoutError' })),
            timeoutMs,
          )
        }),
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  function verify(req: IncomingMessage, path: string, body: Buffer): void {
    const h = req.headers
    const auth = h['authorization']
    if (auth === undefined && options.allowUnsigned) return
    if (typeof auth !== 'string' || !auth.startsWith('FC '))
      throw new InvokeRefusal(
        401,
        'MissingAuthorization',
        'the request has no Authorization header of the form "FC <AccessKeyId>:<signature>"',
      )
    const keyId = auth.slice(3, auth.lastIndexOf(':'))
    if (keyId !== creds.accessKeyId)
      throw new InvokeRefusal(403, 'InvalidAccessKeyId.NotFound', `access key ID ${keyId} is not known to this server`)
    const date = typeof h['date'] === 'string' ? Date.parse(h['date']) : NaN
    if (Number.isNaN(date) || Math.abs(Date.now() - date) > CLOCK_SKEW_MS)
      throw new InvokeRefusal(403, 'RequestTimeTooSkewed', 'the Date header is missing or more than 15 minutes from the server clock')
    if (creds.securityToken !== undefined && h['x-fc-security-token'] !== creds.securityToken)
      throw new InvokeRefusal(
        403,
        'InvalidSecurityToken',
        'the x-fc-security-token header does not match the STS token of these credentials',
      )
    const expected = FCClient.getSignature(creds.accessKeyId, creds.accessKeySecret, req.method ?? 'POST', path, h, null)
    const a = Buffer.from(expected)
    const b = Buffer.from(auth)
    if (a.length !== b.length || !timingSafeEqual(a, b))
      throw new InvokeRefusal(
        403,
        'SignatureNotMatch',
        'the request signature does not match the signature computed with the access key secret (method, Content-MD5, Content-Type, Date, x-fc-* headers, path)',
      )
    // The signature covers the Content-MD5 header; this ties the header to the body actually received.
    if (body.length > 0) {
      const md5 = Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64')
      if (h['content-md5'] !== md5) throw new InvokeRefusal(400, 'InvalidDigest', 'the Content-MD5 header does not match the body')
    }
  }

  // Asynchronous invocations: run later, retried, then routed to onFailure.
  let pending = 0
  let idle: Array<() => void> = []
  const track = (p: Promise<void>) => {
    pending++
    void p.finally(() => {
      pending--
      if (pending === 0) {
        const waiting = idle
        idle = []
        for (const w of waiting) w()
      }
    })
  }

  async function runAsync(l: Loaded, body: Buffer, requestId: string): Promise<void> {
    await new Promise((r) => setImmediate(r))
    const attempts = 1 + (l.fn.maxAsyncRetryAttempts ?? 3)
    let lastError: { errorMessage: string; errorType: string } | undefined
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await run(l, body, contextFor(l, requestId))
        invocations.push({ requestId, functionName: l.fn.name, type: 'Async', attempt, outcome: 'ok' })
        return
      } catch (err) {
        lastError = errorBody(err)
        invocations.push({ requestId, functionName: l.fn.name, type: 'Async', attempt, outcome: 'error', error: lastError.errorMessage })
        print(
          redact(
            `${new Date().toISOString()} ${requestId} [error] async attempt ${attempt} of ${attempts} failed: ${lastError.errorMessage}`,
          ),
        )
        if (attempt < attempts) await new Promise((r) => setTimeout(r, retryDelay))
      }
    }
    if (l.fn.onFailure === undefined) return
    const destination = loaded.get(l.fn.onFailure)!
    const record = {
      timestamp: Date.now(),
      requestContext: {
        requestId,
        functionArn: `acs:fc:${region}:${accountId}:functions/${l.fn.name}`,
        condition: 'UnhandledInvocationError',
        approximateInvokeCount: attempts,
      },
      requestPayload: body.toString('utf8'),
      responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
      responsePayload: JSON.stringify(lastError),
    }
    const destId = newRequestId()
    try {
      await run(destination, Buffer.from(JSON.stringify(record)), contextFor(destination, destId))
      invocations.push({ requestId: destId, functionName: destination.fn.name, type: 'Destination', attempt: 1, outcome: 'ok' })
    } catch (err) {
      const e = errorBody(err)
      invocations.push({
        requestId: destId,
        functionName: destination.fn.name,
        type: 'Destination',
        attempt: 1,
        outcome: 'error',
        error: e.errorMessage,
      })
      print(redact(`${new Date().toISOString()} ${destId} [error] onFailure destination ${destination.fn.name} failed: ${e.errorMessage}`))
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId()
    const url = new URL(req.url ?? '/', 'http://localhost')
    const match = new RegExp(`^/${API_VERSION}/functions/([^/]+)/invocations$`).exec(url.pathname)
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of req) {
      size += (c as Buffer).length
      if (size > SYNC_LIMIT)
        throw new InvokeRefusal(413, 'PayloadTooLarge', `the request body is over the ${SYNC_LIMIT}-byte synchronous limit`)
      chunks.push(c as Buffer)
    }
    const body = Buffer.concat(chunks)
    if (!match)
      throw new InvokeRefusal(
        404,
        'PathNotSupported',
        `this server serves only POST /${API_VERSION}/functions/<name>/invocations, not ${req.method} ${url.pathname}`,
      )
    if (req.method !== 'POST') throw new InvokeRefusal(405, 'MethodNotAllowed', `invoke with POST, not ${req.method}`)
    verify(req, url.pathname, body)
    const name = decodeURIComponent(match[1]!)
    const l = loaded.get(name)
    if (!l)
      throw new InvokeRefusal(404, 'FunctionNotFound', `function ${name} does not exist here (served: ${[...loaded.keys()].join(', ')})`)
    const type = String(req.headers['x-fc-invocation-type'] ?? 'Sync')
    if (type !== 'Sync' && type !== 'Async')
      throw new InvokeRefusal(400, 'InvalidArgument', `x-fc-invocation-type must be Sync or Async, not ${type}`)

    if (type === 'Async') {
      if (body.length > ASYNC_LIMIT)
        throw new InvokeRefusal(
          413,
          'PayloadTooLarge',
          `the request body (${body.length} bytes) is over the ${ASYNC_LIMIT}-byte asynchronous limit`,
        )
      track(runAsync(l, body, requestId))
      res.writeHead(202, { 'x-fc-request-id': requestId, 'content-length': '0' })
      res.end()
      return
    }

    const tail: string[] = []
    const context = contextFor(l, requestId, tail)
    const extra: Record<string, string> = { 'x-fc-request-id': requestId }
    let status = 200
    let payload: Buffer
    let contentType: string
    try {
      const result = await run(l, body, context)
      ;({ payload, contentType } = serialise(result))
      invocations.push({ requestId, functionName: name, type: 'Sync', attempt: 1, outcome: 'ok' })
    } catch (err) {
      const e = errorBody(err)
      extra['x-fc-error-type'] = e.errorType === 'FunctionTimeoutError' ? 'FunctionTimeoutError' : 'UnhandledInvocationError'
      payload = Buffer.from(redact(JSON.stringify(e)))
      contentType = 'application/json'
      invocations.push({ requestId, functionName: name, type: 'Sync', attempt: 1, outcome: 'error', error: e.errorMessage })
      status = 200
    }
    if (req.headers['x-fc-log-type'] === 'Tail') extra['x-fc-log-result'] = Buffer.from(tail.join('\n')).subarray(-4096).toString('base64')
    res.writeHead(status, { ...extra, 'content-type': contentType, 'content-length': String(payload.length) })
    res.end(payload)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const refusal = err instanceof InvokeRefusal ? err : new InvokeRefusal(500, 'InternalServerError', messageOf(err))
      invocations.push({
        requestId: 'refused',
        functionName: req.url ?? '',
        type: 'Sync',
        attempt: 0,
        outcome: 'refused',
        error: `${refusal.code}: ${refusal.message}`,
      })
      print(
        redact(
          `${new Date().toISOString()} - [warn] refused ${req.method} ${req.url}: ${refusal.status} ${refusal.code}: ${refusal.message}`,
        ),
      )
      if (res.headersSent) return void res.end()
      const body = JSON.stringify({ ErrorCode: refusal.code, ErrorMessage: redact(refusal.message) })
      res.writeHead(refusal.status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'x-fc-request-id': newRequestId(),
      })
      res.end(body)
    })
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(options.port ?? 0, host, () => ok())
  })
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://${host}:${port}`,
    port,
    accountId,
    region,
    invocations,
    settled: () => (pending === 0 ? Promise.resolve() : new Promise<void>((r) => idle.push(r))),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

function errorBody(err: unknown): { errorMessage: string; errorType: string; stackTrace: string[] } {
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

function serialise(result: unknown): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(result)) return { payload: result, contentType: 'application/octet-stream' }
  if (typeof result === 'string') return { payload: Buffer.from(result), contentType: 'text/plain; charset=utf-8' }
  if (result === undefined) return { payload: Buffer.alloc(0), contentType: 'text/plain; charset=utf-8' }
  return { payload: Buffer.from(JSON.stringify(result)), contentType: 'application/json' }
}
