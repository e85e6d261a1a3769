// Templates such as `alarms/${userProperties.site:-unknown}/${body.device.id}`: parsed once at rule load
// into literal text and placeholders (parseTemplate), and rendered per message by concatenation, with no
// regular expression per message (renderText; topics: topic-template.ts). docs/rules.md, "Templates".
import { ok, type Result, refused } from '../errors.js'
import { type Field, type FieldReader, parseField } from './fields.js'
import { mqttStringProblem } from './mqtt-strings.js'
import { quote } from './topics.js'

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
export function parseTemplate(source: string): Result<Template> {
  const parts: Part[] = []
  const wrong: string[] = []
  let text = ''
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    if (c === '$' && source[i + 1] === '{') {
      const close = source.indexOf('}', i + 2)
      const nested = source.indexOf('${', i + 2)
      if (close === -1 || (nested !== -1 && nested < close))
        return refused(`unbalanced braces: the \${ at character ${i + 1} is not closed by a }`)
      const placeholder = parsePlaceholder(source.slice(i + 2, close), source.slice(i, close + 1))
      // Every wrong placeholder is named at once, so one edit of the rules fixes them all.
      if (!placeholder.ok) wrong.push(placeholder.reason)
      else {
        if (text !== '') parts.push(text)
        text = ''
        parts.push(placeholder.value)
      }
      i = close + 1
      continue
    }
    if (c === '}') return refused(`unbalanced braces: the } at character ${i + 1} closes no \${`)
    text += c
    i++
  }
  if (wrong.length > 0) return refused(wrong.join('; '))
  if (text !== '') parts.push(text)
  return ok({ source, parts })
}

function parsePlaceholder(inner: string, text: string): Result<Placeholder> {
  const cut = inner.indexOf(':-')
  const name = cut === -1 ? inner : inner.slice(0, cut)
  if (name === '') return refused(`empty placeholder ${text}: name a field, such as \${userProperties.site}`)
  if (cut === -1 && name.includes(':')) return refused(`${text}: a default is written with ':-', such as \${userProperties.site:-unknown}`)
  const field = parseField(name, 'placeholder')
  if (!field.ok) return refused(`unknown placeholder ${text}: ${field.reason}`)
  return ok(cut === -1 ? { field: field.value, text } : { field: field.value, fallback: inner.slice(cut + 2), text })
}

/** Whether the template reads the message body. */
export const readsBody = (t: { parts: Part[] }): boolean => t.parts.some((p) => isPlaceholder(p) && p.field.kind === 'body')

/** Why a placeholder has no value for this message. A class, so the hot path returns plain strings. */
export class NoValue {
  constructor(readonly reason: string) {}
}

/**
 * The placeholder's value for this message, its default, or why there is none. A JSON number is its text as
 * the producer wrote it (shared/mapping/message-fields.ts), so `1e400` or `9007199254740993` is a value,
 * never missing and never rounded.
 */
export function placeholderValue(p: Placeholder, fields: FieldReader): string | NoValue {
  const v = fields.read(p.field)
  if (typeof v === 'string') return v
  if (v !== undefined) return new NoValue(`${p.text} is ${v.what}, not a value`)
  if (p.fallback !== undefined) return p.fallback
  const why = p.field.kind === 'body' && fields.bodyProblem !== undefined ? `: ${fields.bodyProblem}` : ''
  return new NoValue(`${p.text} is missing${why} and has no default (such as ${p.text.slice(0, -1)}:-unknown})`)
}

/** A user property's value: any MQTT string. */
export function renderText(t: Template, fields: FieldReader): Result<string> {
  let text = ''
  for (const part of t.parts) {
    if (typeof part === 'string') {
      text += part
      continue
    }
    const v = placeholderValue(part, fields)
    if (v instanceof NoValue) return refused(v.reason)
    text += v
  }
  const bad = mqttStringProblem(text)
  return bad ? refused(`${quote(text)} is ${bad}`) : ok(text)
}
