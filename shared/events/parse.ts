// The three documented event shapes (docs/platform-facts.md §4): an event-streaming array of CloudEvents,
// one event-driven CloudEvent, and RawData (`data` objects only). Buffer or already-parsed value.
import { isUtf8 } from 'node:buffer'
import { formatPath, messageOf } from '../errors.js'
import { eventTimeOf } from './event-time.js'
import { quickCloudEvent, quickData } from './fast-path.js'
import type { ParsedEvent, RocketMessage } from './message.js'
import { type CloudEvent, cloudEventSchema, type Data, dataSchema } from './schema.js'

/** A CloudEvent has `specversion` or `data`; RawData has `topic`/`body` at the top level. */
function isCloudEvent(entry: unknown): boolean {
  return typeof entry === 'object' && entry !== null && ('specversion' in entry || 'data' in entry)
}

export function parseEvent(event: unknown): ParsedEvent {
  const opened = openEvent(event)
  return { ...opened.entries(0, opened.received), shape: opened.shape, received: opened.received }
}

/** An event decoded as JSON, whose entries are read when asked for, a range at a time. */
export interface OpenedEvent {
  shape: ParsedEvent['shape']
  received: number
  /** Entries [from, to) as messages and poison, each in batch order. */
  entries(from: number, to: number): Pick<ParsedEvent, 'messages' | 'poison'>
}

/**
 * Decodes the event (a Buffer, a string or a parsed value) and finds its shape; its entries are read by
 * `entries`, so a caller may read the first ones and publish them before it reads the rest (the bridge's
 * slices of a paced batch, shared/bridge/bridge.ts).
 */
export function openEvent(event: unknown): OpenedEvent {
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
      return whole(unparsable(text, `event is not JSON: ${messageOf(err)}`, true), lossy)
    }
  }
  if (Array.isArray(value)) {
    const first = value.find((e) => typeof e === 'object' && e !== null)
    const shape = first !== undefined && !isCloudEvent(first) ? 'raw-data' : 'event-streaming'
    const list = value
    return {
      shape,
      received: list.length,
      entries: (from, to) => {
        const out: Pick<ParsedEvent, 'messages' | 'poison'> = { messages: [], poison: [] }
        // A loop, not forEach: a hole in an array handed over in process is an entry too (poison).
        for (let i = from; i < to; i++) addEntry(out, list[i], i, `[${i}]`)
        return lossy ? quarantineReplaced(out) : out
      },
    }
  }
  if (typeof value === 'object' && value !== null) {
    const out: ParsedEvent = { shape: isCloudEvent(value) ? 'event-driven' : 'raw-data', messages: [], poison: [], received: 1 }
    addEntry(out, value, 0, '(event)')
    return whole(out, lossy)
  }
  return whole(unparsable(value, `event must be a JSON array or object, got ${value === null ? 'null' : typeof value}`), lossy)
}

/** An event of one entry, read already. */
function whole(parsed: ParsedEvent, lossy: boolean): OpenedEvent {
  const { messages, poison } = lossy ? quarantineReplaced(parsed) : parsed
  return {
    shape: parsed.shape,
    received: parsed.received,
    entries: (from, to) => (from <= 0 && to > 0 ? { messages, poison } : { messages: [], poison: [] }),
  }
}

/**
 * Moves every message touched by a U+FFFD replacement to the poison list, and flags every dead letter that
 * holds one as lossy: what is stored is the decoding, not the bytes received, so it must not be replayed.
 * The whole entry is searched (system properties, IDs, the CloudEvent's own fields), not only the fields
 * the mapping reads. A message that carried U+FFFD itself is quarantined too: its bytes are unknowable.
 */
function quarantineReplaced<T extends Pick<ParsedEvent, 'messages' | 'poison'>>(parsed: T): T {
  const poison = parsed.poison.map((p) => (holdsReplacement(p.event) ? { ...p, lossy: true as const } : p))
  const messages: RocketMessage[] = []
  for (const m of parsed.messages) {
    if (!holdsReplacement(m.raw)) messages.push(m)
    else
      poison.push({
        index: m.index,
        reason: `[${m.index}]: the event holds bytes that are not valid UTF-8 in this message; they cannot be delivered unchanged`,
        event: m.raw,
        lossy: true,
        ...(m.messageId !== undefined ? { messageId: m.messageId } : {}),
      })
  }
  poison.sort((a, b) => a.index - b.index)
  return { ...parsed, messages, poison }
}

/** Whether any string or key in the value holds U+FFFD; iterative, so any depth is safe. */
function holdsReplacement(value: unknown): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'string') {
      if (v.includes('\uFFFD')) return true
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\uFFFD')) return true
        stack.push(item)
      }
    }
  }
  return false
}

/** The whole event as one dead letter: replay sends it back as it came (raw text, or the JSON value). */
function unparsable(raw: unknown, reason: string, text = false): ParsedEvent {
  const form = { wholeEvent: true as const, ...(text ? { eventText: true as const } : {}) }
  return { shape: 'unparsable', messages: [], poison: [{ index: 0, reason, event: raw, ...form }], received: 1 }
}

function addEntry(out: Pick<ParsedEvent, 'messages' | 'poison'>, entry: unknown, index: number, where: string): void {
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
      out.poison.push({ index, reason: `${field}: ${issue.message}`, event: entry, ...idOf(entry) })
      return
    }
  }
  const sys = data.systemProperties
  const uniq = sys?.['UNIQ_KEY']
  const instance = sys?.['INSTANCE_ID']
  const tags = sys?.['TAGS']
  const userProperties = data.userProperties ?? (Object.create(null) as Record<string, string>)
  const msg: RocketMessage = { index, topic: data.topic, userProperties, body: data.body, raw: entry }
  // UNIQ_KEY (4.x, 5.x), else a self-managed source's msgId, else the CloudEvent's own ID.
  if (typeof uniq === 'string' && uniq !== '') msg.messageId = uniq
  else if (data.msgId) msg.messageId = data.msgId
  else if (ce?.id) msg.messageId = ce.id
  if (typeof instance === 'string' && instance !== '') msg.instanceId = instance
  else {
    const fromSubject = instanceFromSubject(ce?.subject)
    if (fromSubject !== undefined) msg.instanceId = fromSubject
  }
  if (typeof tags === 'string' && tags !== '') msg.tags = tags
  const keys = sys?.['KEYS']
  if (typeof keys === 'string' && keys !== '') msg.keys = keys
  else if (typeof keys === 'number') msg.keys = String(keys)
  // Where EventBridge puts the message group is not documented: the system properties, else the user's.
  const group = sys?.['__SHARDINGKEY'] ?? msg.userProperties['__SHARDINGKEY']
  if (typeof group === 'string' && group !== '') msg.messageGroup = group
  // A number is a group too (its text as JSON.parse read it: two rounded alike share a group, which only orders more).
  else if (typeof group === 'number') msg.messageGroup = String(group)
  if (ce?.time) msg.time = ce.time
  const sent = eventTimeOf(ce?.time, sys)
  if (sent) msg.sentAt = sent
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
  if (typeof data['msgId'] === 'string' && data['msgId'] !== '') return { messageId: data['msgId'] }
  return typeof e['id'] === 'string' ? { messageId: e['id'] } : {}
}
