// The hot path: a well-formed entry is read by hand, without zod's copies. Anything this does not accept
// goes to zod (schema.ts), which rejects it with the message, so both agree on what is valid.
import type { CloudEvent, Data } from './schema.js'

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A properties object as zod's record reads it. One with an own `__proto__` key (JSON.parse makes one) is
 * left to zod, which drops that key (withoutProtoKey); kept here, it would give a different output.
 */
const isRecord = (v: unknown): v is Record<string, unknown> => isPlainObject(v) && !Object.hasOwn(v, '__proto__')

/** JSON's 1e400 parses to Infinity, which zod's finite() refuses: so does this. */
const isSystemValue = (v: unknown) =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))

/** A `data` object, or undefined when zod must look at it. */
export function quickData(d: unknown): Data | undefined {
  if (!isPlainObject(d)) return undefined
  const { topic, body, systemProperties, userProperties, msgId } = d
  if (typeof topic !== 'string' || topic === '' || typeof body !== 'string') return undefined
  // zod ignores a msgId that is not text, but keeps the key: its output is zod's to make.
  if (msgId !== undefined && typeof msgId !== 'string') return undefined
  if (systemProperties !== undefined) {
    if (!isRecord(systemProperties)) return undefined
    for (const v of Object.values(systemProperties)) if (!isSystemValue(v)) return undefined
  }
  let props: Record<string, string> | undefined
  if (userProperties !== undefined) {
    if (!isRecord(userProperties)) return undefined
    for (const v of Object.values(userProperties)) if (typeof v !== 'string') return undefined
    props = userProperties as Record<string, string>
  }
  const out: Data = { topic, body }
  if (systemProperties !== undefined) out.systemProperties = systemProperties as NonNullable<Data['systemProperties']>
  if (props !== undefined) out.userProperties = props
  if (msgId !== undefined) out.msgId = msgId
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
