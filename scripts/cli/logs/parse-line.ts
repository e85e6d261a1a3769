// One line of log output -> one bridge log line, or nothing: as `s logs` prints it (ANSI colours, an instance ID
// and Log Service's time in front, local times without a zone), as `npm start` prints it, or bare JSON.

export interface BridgeLine {
  time: number | undefined
  requestId: string | undefined
  level: string | undefined
  fields: Record<string, unknown> & { event: string }
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g
/** `time requestId [level]` (s logs puts its own time before), matched on the text before the JSON only. */
const FC_HEAD = /(\d{4}-\d\d-\d\d[T ]\d{1,2}:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+(\S+)\s+\[([A-Za-z]+)\]$/
/** Where the head may end; `s logs` puts the function and instance before it. */
const MAX_HEAD = 512
/** Longer lines are no bridge line (the bridge caps its reasons): boundedLines skips them. */
export const MAX_LINE = 1024 * 1024
const LOCAL_TIME = /^(\d{4})-(\d\d)-(\d\d)[T ](\d{1,2}):(\d\d):(\d\d)(?:[.,](\d+))?$/

/** Zone-less times as this machine's local time: the zone `s logs` wrote them in. */
export function parseTime(text: string): number | undefined {
  const local = LOCAL_TIME.exec(text)
  if (local) {
    const [, y, mo, d, h, mi, s, frac = '0'] = local
    const date = new Date(2000, +mo! - 1, +d!, +h!, +mi!, +s!, Math.round(Number(`0.${frac}`) * 1000))
    // Set apart: `new Date(1, …)` would mean 1901.
    date.setFullYear(+y!, +mo! - 1, +d!)
    return Number.isNaN(date.getTime()) ? undefined : date.getTime()
  }
  const t = Date.parse(text)
  return Number.isNaN(t) ? undefined : t
}

function bridgeFields(json: string): BridgeLine['fields'] | undefined {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const event = (value as { event?: unknown }).event
  if (typeof event !== 'string' || !/^(bridge|mqtt|fleet)\./.test(event)) return undefined
  return value as BridgeLine['fields']
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined)

export function parseLine(raw: string): BridgeLine | undefined {
  if (raw.length > MAX_LINE) return undefined
  const line = raw.replace(ANSI, '').replace(/\r$/, '')
  const open = line.indexOf('] {')
  const m = open > 0 && open < MAX_HEAD ? FC_HEAD.exec(line.slice(0, open + 1)) : null
  if (m) {
    const fields = bridgeFields(line.slice(open + 2).trimEnd())
    if (!fields) return undefined
    return { time: parseTime(m[1]!), requestId: text(fields['requestId']) ?? m[2], level: m[3]!.toLowerCase(), fields }
  }
  const trimmed = line.trim()
  if (!trimmed.startsWith('{')) return undefined
  const fields = bridgeFields(trimmed)
  if (!fields) return undefined
  const time = text(fields['time'])
  return {
    time: time === undefined ? undefined : parseTime(time),
    requestId: text(fields['requestId']),
    level: text(fields['level']),
    fields,
  }
}

/** Lines of `input`; one longer than `max` bytes comes as undefined, its bytes dropped as they come: a 700 MB line is a count, not a crash. */
export async function* boundedLines(input: AsyncIterable<Buffer | string>, max: number): AsyncGenerator<string | undefined> {
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
      yield skipping ? undefined : line()
      skipping = false
    }
  }
  if (skipping) yield undefined
  else if (size > 0) yield line()
}
