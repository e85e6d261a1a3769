// zod's issues in the words users read: each with its path, what the value was (`got "1"`), and for an
// unknown key the nearest known one (`did you mean "enabled"?`). A secret's value is never echoed.
import { type ZodError, type ZodTypeAny, z } from 'zod'
import { formatPath, type ProblemAt } from '../errors.js'
import { describeValue } from './filter.js'
import { nearest } from './suggest.js'
import { quote } from './topics.js'

const MAX_SUGGESTIONS = 100

/** Keys whose values are never repeated in an error (they may hold credentials). */
const SECRET_KEY = /password|secret|token|accesskey/i

export function zodProblems(error: ZodError, input: unknown, prefix: PropertyKey[], schema: ZodTypeAny): ProblemAt[] {
  return error.issues.flatMap((issue) => {
    // An unknown key is reported on its own path, so the user sees exactly which key to fix.
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path)
      return issue.keys.map((k, n) => {
        // A hostile body may hold thousands; the first ones are what a person reads.
        const guess = known && n < MAX_SUGGESTIONS ? nearest(k, known) : undefined
        return {
          path: formatPath([...prefix, ...issue.path, k]),
          message: `unknown key ${quote(k)}${guess ? `; did you mean ${quote(guess)}?` : known ? `; known keys: ${known.join(', ')}` : ''}`,
        }
      })
    }
    const value = valueAt(input, issue.path)
    const missing = issue.code === 'invalid_type' && value === undefined
    if (missing) return [{ path: formatPath([...prefix, ...issue.path]), message: 'is required' }]
    // zod's own wording (no message of ours) for a value that should be an object: say it in YAML's terms.
    const notObject =
      issue.code === 'invalid_type' && issue.expected === 'object' && issue.message === `Expected object, received ${issue.received}`
    const message = notObject ? 'must be a mapping (key: value pairs)' : issue.message
    return [{ path: formatPath([...prefix, ...issue.path]), message: withGot(message, value, [...prefix, ...issue.path]) }]
  })
}

/** `must be 0, 1 or 2` -> `must be 0, 1 or 2, got "1"`, unless the message shows the value already or it may be a secret. */
function withGot(message: string, value: unknown, path: PropertyKey[]): string {
  if (path.some((k) => typeof k === 'string' && SECRET_KEY.test(k))) return message
  const got = describeValue(value)
  if ((typeof value === 'string' && message.includes(got)) || message.includes(', got ')) return message
  return `${message}, got ${got}`
}

export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined
    v = (v as Record<PropertyKey, unknown>)[key]
  }
  return v
}

/** The keys the object schema at `path` knows, found by walking the schema; undefined where it cannot tell. */
export function knownKeys(schema: ZodTypeAny, path: readonly PropertyKey[]): string[] | undefined {
  let s: ZodTypeAny | undefined = unwrap(schema)
  for (const key of path) {
    if (typeof key === 'number' && s instanceof z.ZodArray) s = unwrap(s.element)
    else if (typeof key === 'string' && s instanceof z.ZodObject) s = unwrap((s.shape as Record<string, ZodTypeAny>)[key])
    else return undefined
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape as object) : undefined
}

function unwrap(s: ZodTypeAny | undefined): ZodTypeAny | undefined {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap()
    else if (s instanceof z.ZodDefault) s = s.removeDefault()
    else if (s instanceof z.ZodEffects) s = s.innerType()
    else return s
  }
}
