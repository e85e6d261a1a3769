// Rules text (YAML or JSON) -> a value, with the parser's work bounded: a hostile 1 MB body must not cost
// seconds or gigabytes. The YAML library builds an error object for every problem and checks duplicate keys
// pairwise, so a body of half a million bad lines once took ~10 s and ~2 GB (docs/rules.md, "Over HTTP:
// the validate-rules function"). Here the parser streams: it stops after MAX_PARSE_ERRORS or
// MAX_YAML_TOKENS lexical tokens, and duplicate keys are found in one pass with a Set.
import type { CST, Document, LineCounter } from 'yaml'
import { messageOf, type ProblemAt } from '../errors.js'
import { parseExactJson } from './json-numbers.js'
import { nestingProblem } from './nesting.js'
import { keepYamlNumberText, settleJsonNumbers } from './written-numbers.js'
import { yamlLibrary } from './yaml-library.js'

/** YAML aliases are capped so a crafted document ("billion laughs") cannot blow up memory. */
export const MAX_ALIAS_COUNT = 100
/**
 * Lexical tokens of YAML read at most (a line of rules.yaml has about 7). The parser costs 3-8 µs a token
 * here, so this bounds a request to well under a second; 500 rules as rules.yaml writes them fit. Larger sets go
 * as JSON, which JSON.parse reads fast and which has no such limit.
 */
export const MAX_YAML_TOKENS = 60_000
/** The first problems say what is wrong; parsing stops there. */
export const MAX_PARSE_ERRORS = 100

export type TextResult = { ok: true; value: unknown } | { ok: false; errors: ProblemAt[] }

/** Thrown from inside the composer to stop it once enough errors are in (control flow, not an error). */
const ENOUGH = Symbol('enough errors')

/** Parses YAML or JSON text (JSON is YAML). Syntax errors come back with line and column. */
export function parseRulesText(text: string): TextResult {
  // The YAML parser recurses: a document nested thousands deep would exhaust the stack or the heap.
  const tooDeep = nestingProblem(text)
  if (tooDeep) return { ok: false, errors: [{ path: '(document)', message: tooDeep }] }
  // JSON is YAML, but JSON.parse is many times faster; YAML then explains any syntax error with its position.
  // A filter value's number keeps its text, in JSON as in YAML (written-numbers.ts).
  let jsonError: string | undefined
  if (/^\s*[[{]/.test(text)) {
    try {
      return { ok: true, value: settleJsonNumbers(parseExactJson(text)) }
    } catch (err) {
      jsonError = messageOf(err)
    }
  }
  const parsed = parseYaml(text)
  if (parsed === TOO_LONG) {
    const message = jsonError
      ? `is not JSON: ${jsonError}`
      : `holds more than ${MAX_YAML_TOKENS} YAML tokens; send a rule set this large as JSON, which has no such limit`
    return { ok: false, errors: [{ path: '(document)', message }] }
  }
  return parsed
}

const TOO_LONG: unique symbol = Symbol('too long')

type ErrorCallback = (source: number | [number, number] | { offset: number }, code: string, message: string, warning?: boolean) => void

interface Found {
  offset: number
  message: string
}

/** Problems with their offsets, up to MAX_PARSE_ERRORS; `full` once that many are in. */
class Findings {
  readonly list: Found[] = []
  get full(): boolean {
    return this.list.length >= MAX_PARSE_ERRORS
  }
  /** Records a problem; throws ENOUGH once the list is full, to stop the parser mid-way. */
  add(offset: number, message: string): void {
    if (this.full) throw ENOUGH
    this.list.push({ offset, message })
  }
}

function parseYaml(text: string): TextResult | typeof TOO_LONG {
  const { Composer, Lexer, LineCounter, Parser } = yamlLibrary()
  const lineCounter = new LineCounter()
  const parser = new Parser(lineCounter.addNewLine)
  // Duplicate keys are checked below in one pass; the library's own check compares every pair.
  const composer = new Composer({ uniqueKeys: false })
  const found = new Findings()
  // The composer reports through this (private, in the typings) callback: taking it over stops composition
  // after MAX_PARSE_ERRORS. Were it renamed, errors would land in doc.errors, read below, unbounded but correct.
  ;(composer as unknown as { onError: ErrorCallback }).onError = (source, _code, message, warning) => {
    if (!warning) found.add(typeof source === 'number' ? source : Array.isArray(source) ? source[0] : source.offset, message)
  }
  const docs: Document.Parsed[] = []
  /** One CST token: syntax errors are counted here, not handed to the composer, which would build an object for each. */
  const take = (token: CST.Token) => {
    if (token.type === 'error')
      found.add(token.offset, token.source ? `${token.message}: ${JSON.stringify(token.source.slice(0, 40))}` : token.message)
    else for (const doc of composer.next(token)) docs.push(doc)
  }
  try {
    let tokens = 0
    lineCounter.addNewLine(0)
    for (const lexeme of new Lexer().lex(text)) {
      if (++tokens > MAX_YAML_TOKENS) return TOO_LONG
      for (const token of parser.next(lexeme)) take(token)
      if (docs.length > 1) break
    }
    if (docs.length <= 1) for (const token of parser.end()) take(token)
    if (docs.length <= 1) for (const doc of composer.end(true, text.length)) docs.push(doc)
    if (docs.length > 1) found.add(docs[1]!.range[0], 'a second YAML document (after --- or ...); a rules file is one document')
    const doc = docs[0]!
    for (const e of doc.errors) found.add(e.pos[0], e.message)
    if (found.list.length === 0) duplicateKeys(doc, found)
    if (found.list.length === 0) {
      keepYamlNumberText(doc)
      return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) }
    }
  } catch (err) {
    if (err !== ENOUGH) return { ok: false, errors: [{ path: '(document)', message: messageOf(err) }] }
  }
  return { ok: false, errors: located(found, lineCounter) }
}

/** YAML forbids a key twice in one mapping; toJS would keep the last silently. */
function duplicateKeys(doc: Document.Parsed, found: Findings): void {
  const { isMap, isScalar, visit } = yamlLibrary()
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue
        if (seen.has(pair.key.value)) found.add(pair.key.range?.[0] ?? 0, 'Map keys must be unique')
        seen.add(pair.key.value)
      }
    },
  })
}

function located(found: Findings, lines: LineCounter): ProblemAt[] {
  const errors = found.list
    .sort((a, b) => a.offset - b.offset)
    .map((f) => {
      const pos = lines.linePos(f.offset)
      return { path: `(line ${pos.line}, column ${pos.col})`, message: f.message.split('\n')[0]! }
    })
  if (found.full) errors.push({ path: '(more)', message: `parsing stopped after ${MAX_PARSE_ERRORS} errors; fix these first` })
  return errors
}
