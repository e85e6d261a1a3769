// A message body read as JSON (docs/rules.md, "Templates"). JSON.parse first, which is fast and exact for
// everything but numbers; the first number a route reads checks the body's numbers once, and a body with a
// number whose double would not print back as written is read again keeping every number's text
// (shared/rules/json-numbers.ts): `{"n": 9007199254740993}` renders `9007199254740993`, `1.10` stays
// `1.10`, `-0` stays `-0`, `1e400` is a value. A route that reads only text pays nothing for it.
import { ok, type Result, refused } from '../errors.js'
import { parseLosslessJson } from '../rules/json-numbers.js'

export { numbersReadBack, numberText } from '../rules/json-numbers.js'

/** The body's JSON value by JSON.parse (its numbers possibly rounded), or why it is not JSON. */
export function parseJsonBody(text: string): Result<unknown> {
  try {
    return ok(JSON.parse(text))
  } catch (err) {
    return refused(`the body is not JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}

/** The body's JSON value with every number's text kept (`number` or LosslessNumber), or why it cannot be read. */
export function exactJsonBody(text: string): Result<unknown> {
  try {
    return ok(parseLosslessJson(text))
  } catch (err) {
    // lossless-json recurses: a body nested thousands deep exhausts the stack, which JSON.parse did not.
    if (err instanceof RangeError) return refused('the body is JSON nested too deeply to read its numbers exactly')
    return refused(`the body is not JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}
