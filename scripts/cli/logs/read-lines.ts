// Lines from a stream in bounded memory: a line longer than `max` bytes is skipped and counted, its bytes
// dropped as they come, so no string of it is ever built (a 700 MB line is a count, not a crash).

export interface LineCounts {
  /** Lines over the limit, skipped. */
  oversized: number
}

export async function* boundedLines(input: AsyncIterable<Buffer | string>, max: number, counts: LineCounts): AsyncGenerator<string> {
  let parts: Buffer[] = []
  let size = 0
  let skipping = false
  const line = () => {
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8')
    parts = []
    size = 0
    return text.endsWith('\r') ? text.slice(0, -1) : text
  }
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    for (let start = 0; start <= buf.length; ) {
      const nl = buf.indexOf(10, start)
      const end = nl < 0 ? buf.length : nl
      if (!skipping && size + end - start > max) {
        skipping = true
        parts = []
        size = 0
      }
      if (!skipping && end > start) {
        parts.push(buf.subarray(start, end))
        size += end - start
      }
      if (nl < 0) break
      start = nl + 1
      if (skipping) {
        counts.oversized++
        skipping = false
      } else yield line()
    }
  }
  if (skipping) counts.oversized++
  else if (size > 0) yield line()
}
