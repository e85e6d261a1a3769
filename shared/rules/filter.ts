// A route's `when`: conditions on the message's fields, all of which must hold. Each condition is an
// equality, a one-of list, a prefix or a presence test: no expressions, no regular expressions from rules
// (docs/rules.md, "Filters"). Compiled once at rule load (parseWhen) and evaluated per message (accepts).
// Values compare as text, each as written: `level: 3` matches a body's 3 and "3" alike, and `version: 1.10`
// is the text "1.10" (shared/rules/written-numbers.ts keeps a filter value's source text).
import { type Field, type FieldReader, type FieldValue, parseField, sameField } from './fields.js'

export type Test =
  | { kind: 'equals'; value: string }
  | { kind: 'oneOf'; values: Set<string> }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'exists'; present: boolean }

export interface Condition {
  field: Field
  test: Test
}

/** Bounds a hostile rule set's work; real filters have a handful of each. */
export const MAX_CONDITIONS = 16
export const MAX_ONE_OF = 100

const SHAPES = 'a value, a list of values, {prefix: "…"} or {exists: true|false}'

export interface Found {
  /** Below the `when`: a field name, or a field name and more. */
  at: Array<string | number>
  message: string
}

/** A scalar as the text it compares as, or undefined for anything else. */
function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v)
  return undefined
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'nothing'
  if (Array.isArray(v)) return `a list of ${v.length}`
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)
  return String(v)
}

/** The conditions of a `when` mapping, with every problem found (paths below the `when`). */
export function parseWhen(when: unknown, problems: Found[]): Condition[] {
  if (typeof when !== 'object' || when === null || Array.isArray(when)) {
    problems.push({ at: [], message: `must be a mapping of fields to conditions, such as {tags: Alarm}, got ${describeValue(when)}` })
    return []
  }
  const keys = Object.keys(when)
  if (keys.length > MAX_CONDITIONS) {
    problems.push({ at: [], message: `has ${keys.length} conditions; at most ${MAX_CONDITIONS}` })
    return []
  }
  const conditions: Condition[] = []
  for (const key of keys) {
    const field = parseField(key, 'filter')
    if (!field.ok) {
      problems.push({ at: [key], message: field.reason })
      continue
    }
    const test = parseTest((when as Record<string, unknown>)[key], (message, more: Array<string | number> = []) =>
      problems.push({ at: [key, ...more], message }),
    )
    if (test) conditions.push({ field: field.value, test })
  }
  return conditions
}

/** An empty field counts as missing (shared/mapping/message-fields.ts), so an empty value would never match. */
const EMPTY = 'an empty value never matches (an empty field counts as missing): use {exists: false}'

function parseTest(v: unknown, problem: (message: string, more?: Array<string | number>) => void): Test | undefined {
  const text = asText(v)
  if (text === '') return void problem(EMPTY)
  if (text !== undefined) return { kind: 'equals', value: text }
  if (Array.isArray(v)) {
    if (v.length === 0) return void problem('an empty list matches nothing: list at least one value')
    if (v.length > MAX_ONE_OF) return void problem(`lists ${v.length} values; at most ${MAX_ONE_OF}`)
    const values = new Set<string>()
    let bad = false
    v.forEach((item, i) => {
      const t = asText(item)
      if (t === undefined || t === '') {
        bad = true
        problem(t === '' ? EMPTY : `must be a value (text, number or true/false), got ${describeValue(item)}`, [i])
      } else values.add(t)
    })
    return bad ? undefined : { kind: 'oneOf', values }
  }
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v)
    const o = v as Record<string, unknown>
    if (keys.length === 1 && keys[0] === 'prefix') {
      if (typeof o['prefix'] !== 'string' || o['prefix'] === '')
        return void problem(`must be non-empty text, got ${describeValue(o['prefix'])}`, ['prefix'])
      return { kind: 'prefix', prefix: o['prefix'] }
    }
    if (keys.length === 1 && keys[0] === 'exists') {
      if (typeof o['exists'] !== 'boolean') return void problem(`must be true or false, got ${describeValue(o['exists'])}`, ['exists'])
      return { kind: 'exists', present: o['exists'] }
    }
    return void problem(`must be ${SHAPES}; got a mapping with ${keys.map((k) => JSON.stringify(k)).join(', ') || 'no keys'}`)
  }
  problem(`must be ${SHAPES}, got ${describeValue(v)}`)
  return undefined
}

/**
 * Whether every message `later` accepts is accepted by `earlier` too: then a route with `later` after one
 * with `earlier` is unreachable.
 */
export function covers(earlier: Condition[], later: Condition[]): boolean {
  return earlier.every((e) => later.some((l) => sameField(e.field, l.field) && implies(l.test, e.test)))
}

/** Whether a value passing `a` always passes `b`. */
function implies(a: Test, b: Test): boolean {
  const every = (values: Iterable<string>, ok: (v: string) => boolean) => [...values].every(ok)
  const valuesOf = (t: Test): Iterable<string> | undefined => (t.kind === 'equals' ? [t.value] : t.kind === 'oneOf' ? t.values : undefined)
  const known = valuesOf(a)
  switch (b.kind) {
    case 'exists':
      return b.present ? !(a.kind === 'exists' && !a.present) : a.kind === 'exists' && !a.present
    case 'equals':
      return known !== undefined && every(known, (v) => v === b.value)
    case 'oneOf':
      return known !== undefined && every(known, (v) => b.values.has(v))
    case 'prefix':
      if (a.kind === 'prefix') return a.prefix.startsWith(b.prefix)
      return known !== undefined && every(known, (v) => v.startsWith(b.prefix))
  }
}

/** Whether a message passes every condition (a `when` of none accepts every message). */
export function accepts(conditions: Condition[], fields: FieldReader): boolean {
  for (const c of conditions) if (!holds(c.test, fields.read(c.field))) return false
  return true
}

function holds(t: Test, v: FieldValue): boolean {
  if (t.kind === 'exists') return t.present === (v !== undefined)
  // A JSON object or list is present, but equals no value.
  if (typeof v !== 'string') return false
  switch (t.kind) {
    case 'equals':
      return v === t.value
    case 'oneOf':
      return t.values.has(v)
    case 'prefix':
      return v.startsWith(t.prefix)
  }
}
