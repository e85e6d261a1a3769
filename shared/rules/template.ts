// Templates such as `alarms/${userProperties.site:-unknown}/${body.device.id}`, parsed once at rule load
// into literal text and placeholders, so that a message is rendered by concatenation, with no regular
// expression per message (docs/rules.md, "Templates").
import { type Field, parseField } from './fields.js'

export interface Placeholder {
  field: Field
  /** The value when the message has none (`${userProperties.site:-unknown}`). */
  fallback?: string
  /** As written, for error messages: `${userProperties.site:-unknown}`. */
  text: string
}

export type Part = string | Placeholder

export interface Template {
  source: string
  parts: Part[]
}

export const isPlaceholder = (p: Part): p is Placeholder => typeof p !== 'string'

/** The template's parts, or why it cannot be parsed. A `$` not followed by `{` is literal text. */
export function parseTemplate(source: string): Template | string {
  const parts: Part[] = []
  let text = ''
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (c === '$' && source[i + 1] === '{') {
      const close = source.indexOf('}', i + 2)
      const nested = source.indexOf('${', i + 2)
      if (close === -1 || (nested !== -1 && nested < close)) return `unbalanced braces: the \${ at character ${i + 1} is not closed by a }`
      const inner = source.slice(i + 2, close)
      const placeholder = parsePlaceholder(inner, source.slice(i, close + 1))
      if (typeof placeholder === 'string') return placeholder
      if (text !== '') parts.push(text)
      text = ''
      parts.push(placeholder)
      i = close + 1
      continue
    }
    if (c === '}') return `unbalanced braces: the } at character ${i + 1} closes no \${`
    text += c
    i++
  }
  if (text !== '') parts.push(text)
  return { source, parts }
}

function parsePlaceholder(inner: string, text: string): Placeholder | string {
  const cut = inner.indexOf(':-')
  const name = cut === -1 ? inner : inner.slice(0, cut)
  if (name === '') return `empty placeholder ${text}: name a field, such as \${userProperties.site}`
  if (cut === -1 && name.includes(':')) return `${text}: a default is written with ':-', such as \${userProperties.site:-unknown}`
  const field = parseField(name, 'placeholder')
  if (typeof field === 'string') return `unknown placeholder ${text}: ${field}`
  return cut === -1 ? { field, text } : { field, fallback: inner.slice(cut + 2), text }
}

/** Whether the template reads the message body. */
export const readsBody = (t: Template): boolean => t.parts.some((p) => isPlaceholder(p) && p.field.kind === 'body')
