// Request bodies of the local invoke server, bounded: a Content-Length over the limit is refused before a
// byte is read, and a body that grows past it stops being kept (the rest is read and dropped). So no
// request can make the server hold more than the limit, however many arrive.
import type { IncomingMessage } from 'node:http'
import { InvokeRefusal } from '../../shared/errors.js'

const tooLarge = (bytes: string, limit: number, what: string) =>
  new InvokeRefusal(413, 'PayloadTooLarge', `the request body (${bytes}) is over the ${limit}-byte ${what} limit`)

/** Refuses a declared Content-Length over `limit`, without reading anything. */
export function checkDeclaredLength(req: IncomingMessage, limit: number, what: string): void {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(`${declared} bytes`, limit, what)
}

export function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  checkDeclaredLength(req, limit, what)
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
