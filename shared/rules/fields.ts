// The parts of a RocketMQ message that routes read: in templates (`${userProperties.site}`) and in filters
// (`when: {userProperties.site: eu-1}`). Parsed once, at rule load (docs/rules.md, "Routes: topic templates and filters").
// What a message holds in a field comes from a FieldReader (shared/mapping/message-fields.ts reads a RocketMQ message).
import { ok, type Result, refused } from '../errors.js'
import { nearest } from './suggest.js'

export type Field =
  | { kind: 'topic' | 'tags' | 'keys' | 'messageId' | 'mqttSecondTopic' }
  | { kind: 'userProperties'; name: string }
  /** A dot path into the JSON body; a step of digits also indexes an array. */
  | { kind: 'body'; path: string[] }

export type FieldUse = 'placeholder' | 'filter'

const SIMPLE = ['topic', 'tags', 'keys', 'messageId', 'mqttSecondTopic'] as const
/** Filters match on these; the others are the same for every message of a rule, or have their own placeholder. */
const FILTERABLE_SIMPLE = new Set(['tags', 'keys'])
/** A body path deeper than this is no real message's shape. */
export const MAX_BODY_DEPTH = 16

export function describeFields(use: FieldUse): string {
  return use === 'placeholder'
    ? 'topic, tags, keys, messageId, mqttSecondTopic, userProperties.<name> or body.<path>'
    : 'tags, keys, userProperties.<name> or body.<path>'
}

/** The field named by `text` (`tags`, `userProperties.site`, `body.items.0.id`), or why it is not one. */
export function parseField(text: string, use: FieldUse): Result<Field> {
  const dot = text.indexOf('.')
  const head = dot === -1 ? text : text.slice(0, dot)
  const rest = dot === -1 ? undefined : text.slice(dot + 1)
  if ((SIMPLE as readonly string[]).includes(head)) {
    if (use === 'filter' && !FILTERABLE_SIMPLE.has(head))
      return refused(`${head} cannot be filtered on; filters read ${describeFields('filter')}`)
    if (rest !== undefined) return refused(`${head} has no parts: write ${head}`)
    return ok({ kind: head as (typeof SIMPLE)[number] })
  }
  if (head === 'userProperties') {
    if (rest === undefined || rest === '') return refused('needs a property name: userProperties.<name>, such as userProperties.site')
    return ok({ kind: 'userProperties', name: rest })
  }
  if (head === 'body') {
    if (rest === undefined || rest === '') return refused('needs a path into the JSON body: body.<path>, such as body.device.id')
    const path = rest.split('.')
    if (path.some((step) => step === '')) return refused(`has an empty step in its path ${JSON.stringify(text)}`)
    if (path.length > MAX_BODY_DEPTH) return refused(`goes ${path.length} steps deep; at most ${MAX_BODY_DEPTH}`)
    return ok({ kind: 'body', path })
  }
  const known = use === 'placeholder' ? [...SIMPLE, 'userProperties', 'body'] : ['tags', 'keys', 'userProperties', 'body']
  const guess = nearest(head, known)
  const hint = guess ? `; did you mean ${JSON.stringify(rest === undefined ? guess : `${guess}.${rest}`)}?` : ''
  return refused(`unknown field ${JSON.stringify(text)}${hint} (known: ${describeFields(use)})`)
}

/** The field as a rule writes it. */
export function fieldText(f: Field): string {
  if (f.kind === 'userProperties') return `userProperties.${f.name}`
  if (f.kind === 'body') return `body.${f.path.join('.')}`
  return f.kind
}

export const sameField = (a: Field, b: Field): boolean => fieldText(a) === fieldText(b)

/**
 * A field's value in one message: its text (a JSON number as the producer wrote it); undefined when the
 * message has none (missing, empty, JSON null, or a body that cannot be read as JSON); or a JSON object or
 * list, which is present but has no text to fill in or compare.
 */
export type FieldValue = string | undefined | Structure

export interface Structure {
  kind: 'structure'
  what: 'a JSON object' | 'a JSON list'
}

/** Where evaluation reads a message's fields: the filter (filter.ts) and the templates (template.ts). */
export interface FieldReader {
  read(f: Field): FieldValue
  /** Why the body could not be read as JSON, once a body field was read and it could not; else undefined. */
  readonly bodyProblem: string | undefined
}
