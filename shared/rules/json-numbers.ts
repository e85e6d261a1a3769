// JSON read with every number kept as it was written (docs/rules.md, "Templates" and "Filters"): a message
// body whose numbers fill templates and meet filters, and a JSON rules file whose filter values keep their
// text. JSON.parse rounds a number to the nearest double (`9007199254740993` becomes `9007199254740992`,
// `1e400` Infinity), and Node 20's reviver has no source text; so a text with a number whose double would not
// print back as written is read by lossless-json, which keeps the text. Most texts take JSON.parse, several
// times faster.
import { isLosslessNumber, LosslessNumber, parse } from 'lossless-json'

/**
 * Every run of characters that could be a JSON number, strings included. Outside strings it finds each number
 * whole (JSON puts a delimiter on both sides of one); inside strings it may find more, which only sends a
 * text to the slower, exact parser.
 */
const NUMBER_LIKE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g

/** Whether every number in the text is the shortest text of its double, so JSON.parse's value prints it back. */
export function numbersReadBack(text: string): boolean {
  NUMBER_LIKE.lastIndex = 0
  for (let m = NUMBER_LIKE.exec(text); m !== null; m = NUMBER_LIKE.exec(text)) {
    const t = m[0]
    if (String(Number(t)) !== t) return false
  }
  return true
}

/** A number whose double prints back as written stays a number; any other keeps its text. */
const exactNumber = (t: string): number | LosslessNumber => (String(Number(t)) === t ? Number(t) : new LosslessNumber(t))

/**
 * The JSON value of the text, each number a `number` when its double prints back as written, else a
 * LosslessNumber holding its text. A key given twice keeps its last value, as with JSON.parse. Throws a
 * SyntaxError as JSON.parse does, and a RangeError on a text nested too deeply for the stack.
 */
export function parseExactJson(text: string): unknown {
  return numbersReadBack(text) ? JSON.parse(text) : parseLosslessJson(text)
}

/** As parseExactJson, always through lossless-json: for a text JSON.parse has read already, found inexact. */
export function parseLosslessJson(text: string): unknown {
  return parse(text, null, { parseNumber: exactNumber, onDuplicateKey: ({ newValue }) => newValue })
}

/** A number's text as written, or undefined when the value is no number. */
export function numberText(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v)
  return isLosslessNumber(v) ? (v as LosslessNumber).value : undefined
}

export { isLosslessNumber }
