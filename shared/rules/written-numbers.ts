// A number in a filter value or a route's user property keeps the text the rules file gives it (docs/rules.md,
// "Filters"): `when: {userProperties.version: 1.10}` compares with the text "1.10", not "1.1"; `0x1F`, `007`
// and `12345678901234567891` stay as written. Everywhere else a number is a number (qos, batchSize).
import type { Document, Node } from 'yaml'
import { isLosslessNumber } from './json-numbers.js'
import { yamlLibrary } from './yaml-library.js'

type Step = string | number

/** Whether the value at this path is text by nature: a `when` value or list item, a route user property. */
function isTextValued(path: Step[]): boolean {
  if (path.length < 6 || path[0] !== 'rules' || typeof path[1] !== 'number' || path[2] !== 'routes' || typeof path[3] !== 'number')
    return false
  if (path[4] === 'when') return path.length === 6 || (path.length === 7 && typeof path[6] === 'number')
  return path[4] === 'userProperties' && path.length === 6
}

/** Whether a path may lead to a text-valued place, so the walk goes no deeper than it must. */
const mayLead = (path: Step[]): boolean => path.length < 7 && (path.length < 1 || path[0] === 'rules')

/** In a parsed YAML document, each number scalar in a text-valued place takes its source text as its value. */
export function keepYamlNumberText(doc: Document.Parsed): void {
  const { isMap, isScalar, isSeq } = yamlLibrary()
  const walk = (node: unknown, path: Step[]): void => {
    if (isScalar(node)) {
      if ((typeof node.value === 'number' || typeof node.value === 'bigint') && node.source !== undefined && isTextValued(path))
        node.value = node.source
      return
    }
    if (!mayLead(path)) return
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key
        if (typeof key === 'string') walk(pair.value, [...path, key])
      }
    } else if (isSeq(node)) {
      const items = node.items as Node[]
      for (let i = 0; i < items.length; i++) walk(items[i], [...path, i])
    }
  }
  walk(doc.contents, [])
}

/**
 * A JSON value read by shared/rules/json-numbers.ts, its kept number texts settled: text in a text-valued
 * place, a number (as JSON.parse would read it) everywhere else. The value is changed in place.
 */
export function settleJsonNumbers(value: unknown): unknown {
  const walk = (v: unknown, path: Step[]): unknown => {
    if (isLosslessNumber(v)) return isTextValued(path) ? v.value : Number(v.value)
    if (typeof v === 'number') return isTextValued(path) ? String(v) : v
    if (typeof v !== 'object' || v === null) return v
    const o = v as Record<string, unknown>
    for (const key of Object.keys(o)) {
      const before = o[key]
      const after = walk(before, [...path, Array.isArray(o) ? Number(key) : key])
      // Defined, not assigned: an own `__proto__` key is an ordinary key here, as JSON.parse makes it.
      if (after !== before) Object.defineProperty(o, key, { value: after, writable: true, enumerable: true, configurable: true })
    }
    return v
  }
  return walk(value, [])
}
