// Whether a route's `when` accepts a message: every condition must hold (docs/rules.md, "Filters").
// Conditions were parsed at rule load (shared/rules/filter.ts); here each is one comparison of text.
import type { Condition, Test } from '../rules/filter.js'
import type { FieldValue, MessageFields } from './message-fields.js'

export function accepts(conditions: Condition[], fields: MessageFields): boolean {
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
