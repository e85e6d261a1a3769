// The store's files read line by line, streamed in chunks (never a whole file in memory), every read
// bounded by the deadline (bounded-fs.ts): what the store's readers are built on.
import type { FileHandle } from 'node:fs/promises'
import { bounded, closeAfter, type Deadline, openBounded } from './bounded-fs.js'

const code = (err: unknown) => (err as NodeJS.ErrnoException).code

/** Lines longer than this are reported, not read: one line cannot take the reader's memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024

export type Line = { ok: true; text: string; line: number } | { ok: false; line: number; problem: string }

/** The lines of a file, streamed in chunks (never the whole file in memory), each read bounded. */
export async function* readLines(path: string, deadline: Deadline, maxLine = MAX_LINE_BYTES): AsyncGenerator<Line> {
  let h: FileHandle
  try {
    h = await openBounded(deadline, path, 'r')
  } catch (err) {
    if (code(err) === 'ENOENT') return // removed by retention while listed
    throw err
  }
  // Set when a read failed or timed out (it may still be in flight); a reader that stops early is not.
  let failed = false
  const read = async (chunk: Buffer) => {
    try {
      return (await bounded(deadline, `read ${path}`, () => h.read(chunk, 0, chunk.length, null))).bytesRead
    } catch (err) {
      failed = true
      throw err
    }
  }
  try {
    const chunk = Buffer.alloc(1024 * 1024)
    let pending: Buffer[] = []
    let pendingBytes = 0
    let skipping = false
    let line = 1
    for (;;) {
      const bytesRead = await read(chunk)
      if (bytesRead === 0) break
      let start = 0
      for (;;) {
        const nl = chunk.indexOf(0x0a, start)
        const end = nl < 0 || nl >= bytesRead ? bytesRead : nl
        if (!skipping) {
          if (pendingBytes + (end - start) > maxLine) {
            skipping = true
            pending = []
            pendingBytes = 0
          } else {
            pending.push(Buffer.from(chunk.subarray(start, end)))
            pendingBytes += end - start
          }
        }
        if (end === bytesRead) break
        if (skipping) yield { ok: false, line, problem: `line longer than ${maxLine} bytes` }
        else if (pendingBytes > 0) yield { ok: true, text: Buffer.concat(pending, pendingBytes).toString('utf8'), line }
        pending = []
        pendingBytes = 0
        skipping = false
        line++
        start = end + 1
      }
    }
    if (skipping) yield { ok: false, line, problem: `line longer than ${maxLine} bytes` }
    else if (pendingBytes > 0) yield { ok: true, text: Buffer.concat(pending, pendingBytes).toString('utf8'), line }
  } finally {
    await closeAfter(h, path, failed, deadline)
  }
}
