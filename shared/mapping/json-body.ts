// A message body read as JSON with every number kept as the producer wrote it (docs/rules.md, "Templates"):
// `{"n": 9007199254740993}` renders `9007199254740993`, `1.10` stays `1.10`, `-0` stays `-0`, `1e400` is a
// value. JSON.parse rounds such numbers to the nearest double (Node 20's reviver has no source text), so a
// body with a number whose text a double would not give back is read by lossless-json, which keeps the text.
// A body whose numbers all read back exactly (most bodies) takes JSON.parse, several times faster.
import { isLosslessNumber, type LosslessNumber, parse } from 'lossless-json'
import { ok, type Result, refused } from '../errors.js'

/**
 * Every run of characters that could be a JSON number, strings included. Outside strings it finds each number
 * whole (JSON puts a delimiter on both sides of one); inside strings it may find more, which only sends a
 * body to the slower, exact parser.
 */
const NUMBER_LIKE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g

/** Whether every number in the text is the shortest text of its double, so JSON.parse's value prints it back. */
function numbersReadBack(text: string): boolean {
  NUMBER_LIKE.lastIndex = 0
  for (let m = NUMBER_LIKE.exec(text); m !== null; m = NUMBER_LIKE.exec(text)) {
    const t = m[0]
    if (String(Number(t)) !== t) return false
  }
  return true
}

/** The body's JSON value, numbers as `number` (exact) or LosslessNumber (its source text); or why it is not JSON. */
export function parseJsonBody(text: string): Result<unknown> {
  try {
    return ok(numbersReadBack(text) ? JSON.parse(text) : parse(text))
  } catch (err) {
    // lossless-json recurses: a body nested thousands deep exhausts the stack, which JSON.parse would not.
    if (err instanceof RangeError) return refused('the body is JSON nested too deeply to read')
    return refused(`the body is not JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}

/** A number's text as the producer wrote it, or undefined when the value is no number. */
export function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v)
  return isLosslessNumber(v) ? (v as LosslessNumber).value : undefined
}
