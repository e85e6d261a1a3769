// What the local invoke server checks before it runs anything, in order: headers, then the body, bounded
// (refused by its Content-Length before a byte is read, or dropped once it grows past the limit).
// A web page can POST to 127.0.0.1 and, through DNS rebinding, read the answer; browsers always send Origin
// on a cross-origin POST and the page's host as Host, and cannot sign: so an unsigned request with Origin or
// another Host is refused.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type FCClient from '@alicloud/fc2'
import { InvokeRefusal } from '../../shared/errors.js'
import type { FcCredentials } from '../../shared/fc/context.js'

const CLOCK_SKEW_MS = 15 * 60 * 1000

type GetSignature = (typeof FCClient)['getSignature']

const shown = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)

/** An unsigned request must come from a program on this machine, never from a web page (see above). */
export function refuseUnsignedForeign(req: IncomingMessage, listening: string): void {
  const origin = req.headers.origin
  if (origin !== undefined)
    throw new InvokeRefusal(
      403,
      'OriginNotAllowed',
      `an unsigned request carrying an Origin header (${shown(origin)}) comes from a web page; this server takes unsigned requests only from programs on this machine. Sign it, or send it without Origin`,
    )
  const host = req.headers.host
  if (host !== listening)
    throw new InvokeRefusal(
      403,
      'HostNotAllowed',
      `an unsigned request for Host ${host === undefined ? '(none)' : shown(host)}: this server answers unsigned requests only for Host ${listening} (another name is how DNS rebinding reaches it). Call http://${listening}, or sign the request`,
    )
}

export const missingAuthorization = () =>
  new InvokeRefusal(401, 'MissingAuthorization', 'the request has no Authorization header of the form "FC <AccessKeyId>:<signature>"')

/** The Authorization header recomputed with the SDK's own signing code. */
export function verifySignature(
  req: IncomingMessage,
  path: string,
  queries: Record<string, string> | null,
  creds: FcCredentials,
  getSignature: GetSignature,
): void {
  const h = req.headers
  const auth = h['authorization']
  if (typeof auth !== 'string' || !auth.startsWith('FC ')) throw missingAuthorization()
  const keyId = auth.slice(3, auth.lastIndexOf(':'))
  if (keyId !== creds.accessKeyId)
    throw new InvokeRefusal(403, 'InvalidAccessKeyId.NotFound', `access key ID ${shown(keyId)} is not known to this server`)
  const date = typeof h['date'] === 'string' ? Date.parse(h['date']) : Number.NaN
  if (Number.isNaN(date) || Math.abs(Date.now() - date) > CLOCK_SKEW_MS)
    throw new InvokeRefusal(403, 'RequestTimeTooSkewed', 'the Date header is missing or more than 15 minutes from the server clock')
  if (creds.securityToken !== undefined && h['x-fc-security-token'] !== creds.securityToken)
    throw new InvokeRefusal(403, 'InvalidSecurityToken', 'the x-fc-security-token header does not match the STS token of these credentials')
  const expected = Buffer.from(getSignature(creds.accessKeyId, creds.accessKeySecret, req.method ?? 'POST', path, h, queries))
  const given = Buffer.from(auth)
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    throw new InvokeRefusal(
      403,
      'SignatureNotMatch',
      'the request signature does not match the signature computed with the access key secret (method, Content-MD5, Content-Type, Date, x-fc-* headers, path)',
    )
}

/** Content-MD5 as @alicloud/fc2 writes it: the base64 of the hex digest. */
export function contentMd5(body: Buffer): string {
  return Buffer.from(createHash('md5').update(body).digest('hex'), 'utf8').toString('base64')
}

/**
 * The signature covers the body only through Content-MD5, so it must match, an empty body included (else a
 * captured request replayed with its body cut off would pass). No Content-MD5 (the SDK's way for no body): empty.
 */
export function verifyBody(req: IncomingMessage, body: Buffer): void {
  const header = req.headers['content-md5']
  if (header === undefined) {
    if (body.length > 0)
      throw new InvokeRefusal(
        400,
        'InvalidDigest',
        'a signed request with a body must carry Content-MD5: the signature covers the body only through it',
      )
    return
  }
  if (header !== contentMd5(body)) throw new InvokeRefusal(400, 'InvalidDigest', 'the Content-MD5 header does not match the body')
}

/** A path segment's `%` escapes decoded; a malformed one is the client's error: 400, not 500. */
export function decodeSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new InvokeRefusal(400, 'InvalidArgument', `the request path has a malformed % escape: ${shown(path)}`)
  }
}

const tooLarge = (bytes: string, limit: number, what: string) =>
  new InvokeRefusal(413, 'PayloadTooLarge', `the request body (${bytes}) is over the ${limit}-byte ${what} limit`)

export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(`${declared} bytes`, limit, what)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      over = true
      chunks.length = 0
      reject(tooLarge(`more than ${limit} bytes`, limit, what))
    })
    req.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks))
    })
    req.once('error', reject)
    req.once('close', () => {
      if (!req.complete && !over)
        reject(new InvokeRefusal(400, 'IncompleteBody', 'the client closed the connection before the body was complete'))
    })
  })
}
