// The FC 3.0 HTTP trigger event of a built-in runtime (docs/platform-facts.md §6) in, `{statusCode, headers, body}` out.
// The event arrives as a Buffer holding JSON; tests and local runs may pass a string or a parsed object.
import { z } from 'zod'
import { HttpEventError } from '../errors.js'
import { withoutProtoKey } from '../schema-helpers.js'

export interface HttpRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: Record<string, string>
  /** Size of the decoded body, known without decoding it. */
  bodyBytes: number
  /** The decoded body; throws HttpEventError(413) when it is over `maxBytes`, before decoding anything. */
  readBody(maxBytes: number): Buffer
}

export interface HttpResponse {
  statusCode: number
  headers: Record<string, string>
  body: string
  isBase64Encoded: false
}

const stringMap = z.preprocess(
  withoutProtoKey,
  z.record(
    z.string(),
    z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v.join(',') : v)),
  ),
)

const httpEventSchema = z.object({
  rawPath: z.string().optional(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().nullish(),
  headers: stringMap.nullish(),
  queryParameters: stringMap.nullish(),
  requestContext: z.object({
    http: z.object({ method: z.string(), path: z.string().optional() }),
  }),
})

/** Parses the trigger event. The body is decoded only on request, so an oversized one costs nothing more. */
export function parseHttpEvent(event: unknown): HttpRequest {
  let value: unknown = event
  if (Buffer.isBuffer(event) || event instanceof Uint8Array || typeof event === 'string') {
    const text = typeof event === 'string' ? event : Buffer.from(event.buffer, event.byteOffset, event.byteLength).toString('utf8')
    try {
      value = JSON.parse(text)
    } catch {
      throw new HttpEventError(400, 'the function was not invoked through its HTTP trigger: the event is not JSON')
    }
  }
  const parsed = httpEventSchema.safeParse(value)
  if (!parsed.success)
    throw new HttpEventError(400, 'the function was not invoked through its HTTP trigger: the event has no requestContext.http.method')
  const e = parsed.data
  const raw = e.body ?? ''
  // Base64 takes 4 characters per 3 bytes: the decoded size is known before decoding.
  const bodyBytes = e.isBase64Encoded ? Math.floor((raw.replace(/=+$/, '').length * 3) / 4) : Buffer.byteLength(raw, 'utf8')
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(e.headers ?? {})) headers[k.toLowerCase()] = v
  return {
    method: e.requestContext.http.method.toUpperCase(),
    path: e.rawPath ?? e.requestContext.http.path ?? '/',
    query: e.queryParameters ?? {},
    headers,
    bodyBytes,
    readBody(maxBytes) {
      if (bodyBytes > maxBytes) throw new HttpEventError(413, `request body is ${bodyBytes} bytes; at most ${maxBytes} allowed`)
      if (!e.isBase64Encoded) return Buffer.from(raw, 'utf8')
      if (!/^[A-Za-z0-9+/\r\n]*={0,2}$/.test(raw)) throw new HttpEventError(400, 'request body is marked isBase64Encoded but is not base64')
      return Buffer.from(raw, 'base64')
    },
  }
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body, null, 2) + '\n',
    isBase64Encoded: false,
  }
}
