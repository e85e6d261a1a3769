// zod helpers shared by every schema of the project (rules, events, environment, HTTP events): messages
// worded as users see them, and the preprocessing JSON objects need.
import { z } from 'zod'

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
export const finite = (message: string) => z.number().finite(message)

/**
 * A JSON object as a map with no prototype: every own key checked by `value` and kept, `__proto__`,
 * `constructor` and `toString` included, as ordinary names (docs/reliability.md, "Prototype-safe maps").
 * zod's record assigns into a plain object, where a `__proto__` key is lost.
 */
export function ownRecord<V extends z.ZodTypeAny>(value: V, message: string) {
  return z.custom<Record<string, unknown>>(isObject, { message }).transform((obj, ctx) => {
    const out = Object.create(null) as Record<string, z.output<V>>
    for (const key of Object.keys(obj)) {
      const r = value.safeParse(obj[key])
      if (!r.success) {
        for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] })
        return z.NEVER
      }
      out[key] = r.data
    }
    return out
  })
}

/** An object that is not an array: what JSON calls an object. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * zod 4's records skipped an own `__proto__` key (JSON.parse makes one) unchecked; zod 3's check its value.
 * Dropping the key first keeps the same verdict; neither puts it in the output.
 */
export function withoutProtoKey(v: unknown): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, '__proto__')
    ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== '__proto__'))
    : v
}
