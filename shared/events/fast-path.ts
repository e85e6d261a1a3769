// The hot path: a well-formed entry is read by hand, without zod's copies. Anything this does not accept
// goes to zod (schema.ts), which rejects it with the message, so both agree on what is valid.
import { isObject } from '../schema-helpers.js'
import type { CloudEvent, Data } from './schema.js'

/** A properties object as the schema's ownRecord makes it: a copy with no prototype, every own key kept. */
const nullProto = (v: Record<string, unknown>): Record<string, unknown> => Object.assign(Object.create(null), v)

/** JSON's 1e400 parses to Infinity, which zod's finite() refuses: so does this. */
const isSystemValue = (v: unknown) =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))

/** A `data` object, or undefined when zod must look at it. */
export function quickData(d: unknown): Data | undefined {
  if (!isObject(d)) return undefined
  const { topic, body, systemProperties, userProperties, msgId } = d
  if (typeof topic !== 'string' || topic === '' || typeof body !== 'string') return undefined
  // zod ignores a msgId that is not text, but keeps the key: its output is zod's to make.
  if (msgId !== undefined && typeof msgId !== 'string') return undefined
  if (systemProperties !== undefined) {
    if (!isObject(systemProperties)) return undefined
    for (const v of Object.values(systemProperties)) if (!isSystemValue(v)) return undefined
  }
  if (userProperties !== undefined) {
    if (!isObject(userProperties)) return undefined
    for (const v of Object.values(userProperties)) if (typeof v !== 'string') return undefined
  }
  const out: Data = { topic, body }
  if (systemProperties !== undefined) out.systemProperties = nullProto(systemProperties) as NonNullable<Data['systemProperties']>
  if (userProperties !== undefined) out.userProperties = nullProto(userProperties) as Record<string, string>
  if (msgId !== undefined) out.msgId = msgId
  return out
}

export function quickCloudEvent(e: unknown): CloudEvent | undefined {
  if (!isObject(e)) return undefined
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
