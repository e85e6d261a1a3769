// A function's HTTP trigger at /http/<function-name>[/path]: the request becomes the FC 3.0 HTTP trigger
// event (docs/platform-facts.md §6), and the function's {statusCode, …} the answer, with its real status.
import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import { decodeSegment } from './fc-request-checks.js'

export interface HttpTriggerRequest {
  functionName: string
  /** The path after the function's name: `/` when there is none. */
  rawPath: string
  query: URLSearchParams
}

/** `/http/<name>[/rest]` -> the function and the trigger's own path; undefined for any other path. */
export function matchHttpTrigger(url: URL): HttpTriggerRequest | undefined {
  if (!url.pathname.startsWith('/http/')) return undefined
  const rest = url.pathname.slice('/http/'.length)
  const slash = rest.indexOf('/')
  const name = decodeSegment(slash < 0 ? rest : rest.slice(0, slash), url.pathname)
  if (name === '') return undefined
  return { functionName: name, rawPath: slash < 0 ? '/' : rest.slice(slash), query: url.searchParams }
}

/** `domainName`: the listening address, standing in for <function>.<region>.fcapp.run. */
export function httpTriggerEvent(
  req: IncomingMessage,
  t: HttpTriggerRequest,
  body: Buffer,
  facts: { requestId: string; accountId: string; domainName: string },
): Buffer {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v
  const queryParameters: Record<string, string> = {}
  for (const [k, v] of t.query) queryParameters[k] = k in queryParameters ? `${queryParameters[k]},${v}` : v
  // Text bodies arrive as text; anything else base64-encoded, flagged isBase64Encoded.
  const text = isUtf8(body)
  const now = Date.now()
  const event = {
    version: 'v1',
    rawPath: t.rawPath,
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
    headers,
    queryParameters,
    requestContext: {
      accountId: facts.accountId,
      domainName: facts.domainName,
      domainPrefix: t.functionName,
      http: {
        method: req.method ?? 'GET',
        path: t.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: facts.requestId,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      timeEpoch: String(now),
    },
  }
  return Buffer.from(JSON.stringify(event))
}

export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** A handler's result as a body of its own type: what a synchronous invocation answers. */
export function serialise(result: unknown): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(result)) return { payload: result, contentType: 'application/octet-stream' }
  if (typeof result === 'string') return { payload: Buffer.from(result), contentType: 'text/plain; charset=utf-8' }
  if (result === undefined) return { payload: Buffer.alloc(0), contentType: 'text/plain; charset=utf-8' }
  return { payload: Buffer.from(JSON.stringify(result)), contentType: 'application/json' }
}

/** The function's answer. One that is not {statusCode, …} is sent as 200 with the value as its body. */
export function httpTriggerAnswer(result: unknown): HttpAnswer {
  if (typeof result === 'object' && result !== null && typeof (result as { statusCode?: unknown }).statusCode === 'number') {
    const r = result as { statusCode: number; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: boolean }
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v)
    const raw = r.body === undefined || r.body === null ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body)
    return { status: r.statusCode, headers, body: r.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8') }
  }
  const { payload, contentType } = serialise(result)
  return { status: 200, headers: result === undefined ? {} : { 'content-type': contentType }, body: payload }
}
