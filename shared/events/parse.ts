// The three documented event shapes (docs/platform-facts.md §4): an event-streaming array of CloudEvents,
// one event-driven CloudEvent, and RawData (`data` objects only). Buffer or already-parsed value.
import { isUtf8 } from 'node:buffer'
import { z } from 'zod'
import { formatPath } from '../errors.js'

/** One RocketMQ message, as the bridge needs it. */
export interface RocketMessage {
  /** Position in the batch, for ordering and error messages. */
  index: number
  messageId?: string
  instanceId?: string
  topic: string
  tags?: string
  userProperties: Record<string, string>
  body: string
  /** CloudEvent `time`, when the shape has it: the basis of the lag figure. */
  time?: string
  /** The entry exactly as received, for the dead letters. */
  raw: unknown
}

/** An entry that is not a valid message, or an event that is not JSON at all. */
export interface PoisonEntry {
  index: number
  reason: string
  messageId?: string
  raw: unknown
}

export interface ParsedEvent {
  shape: 'event-streaming' | 'event-driven' | 'raw-data' | 'unparsable'
  messages: RocketMessage[]
  poison: PoisonEntry[]
  /** Number of entries in the event (messages + poison). */
  received: number
}

/** This message for every issue the schema itself raises (what zod 4's `{ error }` did). */
export const error = (message: string) => ({ errorMap: () => ({ message }) })

/** zod 4's name for the type of a value, as its messages print it. */
function received(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) || !Number.isFinite(v) ? String(v) : 'number'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'object' && Object.getPrototypeOf(v) !== Object.prototype && 'constructor' in v && v.constructor)
    return (v.constructor as { name: string }).name
  return typeof v
}

/** zod 4's own message for a value of the wrong type, for a schema without a message of ours. */
export const typeError = (expected: string) => ({
  errorMap: (_issue: unknown, ctx: { data: unknown }) => ({
    message: `Invalid input: expected ${expected}, received ${received(ctx.data)}`,
  }),
})

/** zod 4's z.number() refused Infinity (JSON's 1e400); zod 3's takes it. The message is the union's. */
const finite = (message: string) => z.number().finite(message)

/**
 * zod 4's records skipped an own `__proto__` key (JSON.parse makes one) unchecked; zod 3's check its value.
 * Dropping the key first keeps the same verdict; neither puts it in the output.
 */
export function withoutProtoKey(v: unknown): unknown {
  return isPlainObject(v) && Object.hasOwn(v, '__proto__') ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__proto__')) : v
}

const propertyValue = z.union([z.string(), finite('must be a string'), z.boolean()], error('must be a string')).transform(String)

export const dataSchema = z.object(
  {
    topic: z.string(error('must be a string')).min(1, 'must not be empty'),
    systemProperties: z
      .preprocess(
        withoutProtoKey,
        z.record(z.string(), z.union([z.string(), finite('Invalid input'), z.boolean(), z.null()]), error('must be an object')),
      )
      .optional(),
    userProperties: z.preprocess(withoutProtoKey, z.record(z.string(), propertyValue, error('must be an object of strings'))).optional(),
    body: z.string(error('must be a string')),
  },
  error('must be an object with topic and body'),
)

export const cloudEventSchema = z.object({
  id: z.string(typeError('string')).optional(),
  subject: z.string(typeError('string')).optional(),
  time: z.string(typeError('string')).optional(),
  data: dataSchema,
})

/** A CloudEvent has `specversion` or `data`; RawData has `topic`/`body` at the top level. */
function isCloudEvent(entry: unknown): boolean {
  return typeof entry === 'object' && entry !== null && ('specversion' in entry || 'data' in entry)
}

export function parseEvent(event: unknown): ParsedEvent {
  let value: unknown = event
  let lossy = false
  if (Buffer.isBuffer(event) || event instanceof Uint8Array || typeof event === 'string') {
    let text: string
    if (typeof event === 'string') {
      text = event
    } else {
      const bytes = Buffer.from(event.buffer, event.byteOffset, event.byteLength)
      // Invalid UTF-8 decodes to U+FFFD: a message that contains it would be published changed.
      lossy = !isUtf8(bytes)
      text = bytes.toString('utf8')
    }
    try {
      value = JSON.parse(text)
    } catch (err) {
      return unparsable(text, `event is not JSON: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  const parsed = parseValue(value)
  return lossy ? quarantineReplaced(parsed) : parsed
}

/** Moves every message touched by a U+FFFD replacement to the poison list; the others are intact. */
function quarantineReplaced(parsed: ParsedEvent): ParsedEvent {
  const touched = (m: RocketMessage) =>
    m.body.includes('\uFFFD') ||
    m.topic.includes('\uFFFD') ||
    Object.entries(m.userProperties).some(([k, v]) => k.includes('\uFFFD') || v.includes('\uFFFD'))
  const poison = [...parsed.poison]
  const messages: RocketMessage[] = []
  for (const m of parsed.messages) {
    if (!touched(m)) messages.push(m)
    else
      poison.push({
        index: m.index,
        reason: `[${m.index}]: the event holds bytes that are not valid UTF-8 in this message; they cannot be delivered unchanged`,
        raw: m.raw,
        ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
      })
  }
  poison.sort((a, b) => a.index - b.index)
  return { ...parsed, messages, poison }
}

function parseValue(value: unknown): ParsedEvent {
  if (Array.isArray(value)) {
    const first = value.find((e) => typeof e === 'object' && e !== null)
    const shape = first !== undefined && !isCloudEvent(first) ? 'raw-data' : 'event-streaming'
    const out: ParsedEvent = { shape, messages: [], poison: [], received: value.length }
    value.forEach((entry, i) => {
      addEntry(out, entry, i, `[${i}]`)
    })
    return out
  }
  if (typeof value === 'object' && value !== null) {
    const out: ParsedEvent = { shape: isCloudEvent(value) ? 'event-driven' : 'raw-data', messages: [], poison: [], received: 1 }
    addEntry(out, value, 0, '(event)')
    return out
  }
  return unparsable(value, `event must be a JSON array or object, got ${value === null ? 'null' : typeof value}`)
}

function unparsable(raw: unknown, reason: string): ParsedEvent {
  return { shape: 'unparsable', messages: [], poison: [{ index: 0, reason, raw }], received: 1 }
}

type Data = z.infer<typeof dataSchema>
type CloudEvent = z.infer<typeof cloudEventSchema>

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The hot path: a well-formed entry is read by hand, without zod's copies. Anything this does not accept
 * goes to zod, which rejects it with the message (so both agree on what is valid).
 */
export function quickData(d: unknown): Data | undefined {
  if (!isPlainObject(d)) return undefined
  const { topic, body, systemProperties, userProperties } = d
  if (typeof topic !== 'string' || topic === '' || typeof body !== 'string') return undefined
  if (systemProperties !== undefined) {
    if (!isPlainObject(systemProperties)) return undefined
    for (const v of Object.values(systemProperties))
      if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined
  }
  let props: Record<string, string> | undefined
  if (userProperties !== undefined) {
    if (!isPlainObject(userProperties)) return undefined
    for (const v of Object.values(userProperties)) if (typeof v !== 'string') return undefined
    props = userProperties as Record<string, string>
  }
  const out: Data = { topic, body }
  if (systemProperties !== undefined) out.systemProperties = systemProperties as NonNullable<Data['systemProperties']>
  if (props !== undefined) out.userProperties = props
  return out
}

export function quickCloudEvent(e: unknown): CloudEvent | undefined {
  if (!isPlainObject(e)) return undefined
  const { id, subject, time } = e
  if (
    (id !== undefined && typeof id !== 'string') ||
    (subject !== undefined && typeof subject !== 'string') ||
    (time !== undefined && typeof time !== 'string')
  )
    return undefined
  const data = quickData(e['data'])
  if (!data) return undefined
  const out: CloudEvent = { data }
  if (id !== undefined) out.id = id
  if (subject !== undefined) out.subject = subject
  if (time !== undefined) out.time = time
  return out
}

function addEntry(out: ParsedEvent, entry: unknown, index: number, where: string): void {
  const cloud = isCloudEvent(entry)
  let ce: CloudEvent | undefined
  let data: Data | undefined
  if (cloud) {
    ce = quickCloudEvent(entry)
    data = ce?.data
  } else data = quickData(entry)
  if (!data) {
    const parsed = cloud ? cloudEventSchema.safeParse(entry) : dataSchema.safeParse(entry)
    if (parsed.success) {
      // Accepted after conversion (a number or boolean user property becomes a string).
      ce = cloud ? (parsed.data as CloudEvent) : undefined
      data = ce ? ce.data : (parsed.data as Data)
    } else {
      const issue = parsed.error.issues[0]!
      const path = formatPath(issue.path)
      const field = path === '(root)' ? where : `${where}.${path}`.replace('.[', '[')
      out.poison.push({ index, reason: `${field}: ${issue.message}`, raw: entry, ...idOf(entry) })
      return
    }
  }
  const sys = data.systemProperties
  const uniq = sys?.['UNIQ_KEY']
  const instance = sys?.['INSTANCE_ID']
  const tags = sys?.['TAGS']
  const msg: RocketMessage = { index, topic: data.topic, userProperties: data.userProperties ?? {}, body: data.body, raw: entry }
  if (typeof uniq === 'string' && uniq !== '') msg.messageId = uniq
  else if (ce?.id) msg.messageId = ce.id
  if (typeof instance === 'string' && instance !== '') msg.instanceId = instance
  else {
    const fromSubject = instanceFromSubject(ce?.subject)
    if (fromSubject !== undefined) msg.instanceId = fromSubject
  }
  if (typeof tags === 'string' && tags !== '') msg.tags = tags
  if (ce?.time) msg.time = ce.time
  out.messages.push(msg)
}

/** `acs:mq:<region>:<uid>:<instanceId>%<topic>` -> instanceId. */
function instanceFromSubject(subject: string | undefined): string | undefined {
  if (!subject) return undefined
  const last = subject.slice(subject.lastIndexOf(':') + 1)
  const cut = last.indexOf('%')
  return cut > 0 ? last.slice(0, cut) : undefined
}

/** Best-effort message ID of a malformed entry, so its dead letter can be traced. */
function idOf(entry: unknown): { messageId?: string } {
  if (typeof entry !== 'object' || entry === null) return {}
  const e = entry as Record<string, unknown>
  const data = (typeof e['data'] === 'object' && e['data'] !== null ? e['data'] : e) as Record<string, unknown>
  const sys = data['systemProperties'] as Record<string, unknown> | undefined
  const uniq = sys && typeof sys === 'object' ? sys['UNIQ_KEY'] : undefined
  if (typeof uniq === 'string' && uniq !== '') return { messageId: uniq }
  return typeof e['id'] === 'string' ? { messageId: e['id'] } : {}
}
