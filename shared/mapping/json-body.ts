// A message body read as JSON with every number kept as the producer wrote it (docs/rules.md, "Templates"):
// `{"n": 9007199254740993}` renders `9007199254740993`, `1.10` stays `1.10`, `-0` stays `-0`, `1e400` is a
// value (shared/rules/json-numbers.ts).
import { ok, type Result, refused } from '../errors.js'
import { parseExactJson } from '../rules/json-numbers.js'

export { numberText } from '../rules/json-numbers.js'

/** The body's JSON value, numbers as `number` (exact) or LosslessNumber (its source text); or why it is not JSON. */
export function parseJsonBody(text: string): Result<unknown> {
  try {
    return ok(parseExactJson(text))
  } catch (err) {
    // lossless-json recurses: a body nested thousands deep exhausts the stack, which JSON.parse would not.
    if (err instanceof RangeError) return refused('the body is JSON nested too deeply to read')
    return refused(`the body is not JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}
