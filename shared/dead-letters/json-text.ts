// JSON helpers that never recurse, for hostile values: V8's JSON.stringify overflows its stack about 5,000
// levels deep while JSON.parse does not, so an event could parse and then fail every time it is written.
// Every item on its way into the store passes storable(): what cannot stay JSON is kept as text, noted.
import type { DeadLetter } from './record.js'

/** Deepest value the store keeps as JSON; anything deeper is kept as text (jq 1.6 stops at 256). */
export const MAX_JSON_DEPTH = 100

/** What stops a value from being kept as JSON unchanged, or undefined when it can be. Iterative. */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!
    if (typeof v === 'number' && !Number.isFinite(v)) return `it holds a number JSON cannot write back (${String(v)})`
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') continue
    if (typeof v !== 'object') return `it holds a ${typeof v}, which is not JSON`
    if (depth >= maxDepth) return `it is nested deeper than ${maxDepth} levels`
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: c, depth: depth + 1 })
  }
  return undefined
}

/** Text jsonText() writes as it is: brackets, commas and keys, queued among the values still to write. */
class Literal {
  constructor(readonly text: string) {}
}

/** JSON text of any value, without recursion; Infinity as 1e999 (it parses back), what JSON cannot hold as null. */
export function jsonText(value: unknown): string {
  const out: string[] = []
  const todo: unknown[] = [value]
  while (todo.length > 0) {
    const v = todo.pop()
    if (v instanceof Literal) out.push(v.text)
    else if (typeof v === 'number') out.push(Number.isFinite(v) ? JSON.stringify(v) : Number.isNaN(v) ? 'null' : v > 0 ? '1e999' : '-1e999')
    else if (typeof v === 'string' || typeof v === 'boolean') out.push(JSON.stringify(v))
    else if (v === null || typeof v !== 'object') out.push('null')
    else {
      const array = Array.isArray(v)
      const items: Array<[string | undefined, unknown]> = array
        ? Array.from(v, (x): [undefined, unknown] => [undefined, x])
        : Object.entries(v).filter(([, x]) => x !== undefined && typeof x !== 'function')
      out.push(array ? '[' : '{')
      todo.push(new Literal(array ? ']' : '}'))
      for (let i = items.length - 1; i >= 0; i--) {
        const [key, item] = items[i]!
        todo.push(item)
        if (key !== undefined) todo.push(new Literal(`${JSON.stringify(key)}:`))
        if (i > 0) todo.push(new Literal(','))
      }
    }
  }
  return out.join('')
}

/** JSON.stringify where it can (fast), jsonText where the value is too deep for it. */
export function anyJsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null'
  } catch {
    return jsonText(value)
  }
}

/** The exact text of each item of a JSON array (keeping what parsing would lose: 1e400), or undefined. */
export function arrayItemTexts(text: string): string[] | undefined {
  const open = /^[ \t\n\r]*\[/.exec(text)
  if (!open) return undefined
  const items: string[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = open[0].length; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue
    if (start < 0 && c !== ']' && c !== ',') start = i
    if (c === '"') inString = true
    else if (c === '[' || c === '{') depth++
    else if ((c === ']' || c === '}') && depth > 0) depth--
    else if (depth === 0 && (c === ',' || c === ']')) {
      if (start >= 0) items.push(text.slice(start, i).trimEnd())
      start = -1
      if (c === ']') return /^[ \t\n\r]*$/.test(text.slice(i + 1)) ? items : undefined
    }
  }
  return undefined
}

/** The item as the store keeps it: itself, or (`eventText`) its JSON text, `rawText` when the caller has it. */
export function storable(raw: unknown, rawText?: string): { event: unknown; eventText?: true; note?: string } {
  const problem = jsonProblem(raw)
  if (problem === undefined) return { event: raw }
  const kind = Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw
  const note = `the entry (${kind}) cannot be kept as JSON, ${problem}: stored as its JSON text`
  return { event: rawText ?? jsonText(raw), eventText: true, note }
}

/** A dead letter made storable: the event as JSON where it can be, as text (noted in the reason) where not. */
export function storableDeadLetter(fields: Omit<DeadLetter, 'event'>, event: unknown): DeadLetter {
  if (fields.eventText) return { ...fields, event }
  const kept = storable(event)
  if (!kept.eventText) return { ...fields, event: kept.event }
  return { ...fields, reason: `${fields.reason}; ${kept.note}`, event: kept.event, eventText: true }
}
