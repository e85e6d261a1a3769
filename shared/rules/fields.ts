// The parts of a RocketMQ message that routes read: in templates (`${userProperties.site}`) and in filters
// (`when: {userProperties.site: eu-1}`). Parsed once, at rule load (docs/rules.md, "Routes: topic templates and filters").
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
export function parseField(text: string, use: FieldUse): Field | string {
  const dot = text.indexOf('.')
  const head = dot === -1 ? text : text.slice(0, dot)
  const rest = dot === -1 ? undefined : text.slice(dot + 1)
  if ((SIMPLE as readonly string[]).includes(head)) {
    if (use === 'filter' && !FILTERABLE_SIMPLE.has(head)) return `${head} cannot be filtered on; filters read ${describeFields('filter')}`
    if (rest !== undefined) return `${head} has no parts: write ${head}`
    return { kind: head as (typeof SIMPLE)[number] }
  }
  if (head === 'userProperties') {
    if (rest === undefined || rest === '') return 'needs a property name: userProperties.<name>, such as userProperties.site'
    return { kind: 'userProperties', name: rest }
  }
  if (head === 'body') {
    if (rest === undefined || rest === '') return 'needs a path into the JSON body: body.<path>, such as body.device.id'
    const path = rest.split('.')
    if (path.some((step) => step === '')) return `has an empty step in its path ${JSON.stringify(text)}`
    if (path.length > MAX_BODY_DEPTH) return `goes ${path.length} steps deep; at most ${MAX_BODY_DEPTH}`
    return { kind: 'body', path }
  }
  const known = use === 'placeholder' ? [...SIMPLE, 'userProperties', 'body'] : ['tags', 'keys', 'userProperties', 'body']
  const guess = nearest(head, known)
  const hint = guess ? `; did you mean ${JSON.stringify(rest === undefined ? guess : `${guess}.${rest}`)}?` : ''
  return `unknown field ${JSON.stringify(text)}${hint} (known: ${describeFields(use)})`
}

/** The field as a rule writes it. */
export function fieldText(f: Field): string {
  if (f.kind === 'userProperties') return `userProperties.${f.name}`
  if (f.kind === 'body') return `body.${f.path.join('.')}`
  return f.kind
}

export const sameField = (a: Field, b: Field): boolean => fieldText(a) === fieldText(b)
