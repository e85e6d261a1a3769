// A guard against documents built to exhaust the parser: deep flow nesting ([[[[…]]]] or {{{…}}}) or
// deep block indentation. A linear scan, run before YAML or JSON parsing; real rule files nest about 5 deep.

export const MAX_NESTING = 64
/** Block YAML nests by indentation; this much leading space allows well over MAX_NESTING levels. */
export const MAX_INDENT = 256

/** What may stand before a quote that opens a quoted scalar: nothing, or a key, item or flow indicator. */
const QUOTE_MAY_OPEN_AFTER = new Set(['', ':', '-', '[', '{', ',', '?'])

/** Why the text nests too deeply, or undefined. Brackets inside quoted strings and comments do not count. */
export function nestingProblem(text: string): string | undefined {
  let depth = 0
  let line = 1
  let quote = ''
  let lineStart = true
  let indent = 0
  /** The last character on this line that is not a space: a quote opens a scalar only where YAML starts one. */
  let before = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '\n') {
      line++
      lineStart = true
      indent = 0
      before = ''
      if (quote === '"' || quote === "'") continue
      quote = quote === '#' ? '' : quote
      continue
    }
    if (lineStart) {
      if (c === ' ' || c === '\t' || c === '-') {
        if (++indent > MAX_INDENT) return `line ${line} is indented more than ${MAX_INDENT} characters: nesting too deep`
        continue
      }
      lineStart = false
    }
    if (quote === '#') continue
    if (quote !== '') {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = ''
      continue
    }
    // `it's` inside a plain scalar opens nothing: a quote counts only at the start of a value or key.
    if ((c === '"' || c === "'") && QUOTE_MAY_OPEN_AFTER.has(before)) quote = c
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) quote = '#'
    else if (c === '[' || c === '{') {
      if (++depth > MAX_NESTING) return `line ${line} nests brackets more than ${MAX_NESTING} deep`
      // A stray closing bracket must not buy room for deeper nesting later.
    } else if ((c === ']' || c === '}') && depth > 0) depth--
    if (c !== ' ' && c !== '\t') before = c
  }
  return undefined
}
