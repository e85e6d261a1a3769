// Hostile requests to validate-rules: deep nesting, huge arrays, alias bombs. Each is refused with a
// clear status and message, from the guard that bounds its work (the nesting guard, the list's length
// before any rule is checked, the alias cap), without exhausting the stack or the heap. Speed is not
// timed here: no test asserts a wall-clock bound.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { handler } from '../../../functions/validate-rules/index.js'
import { MAX_NESTING, nestingProblem } from '../../../shared/rules/nesting.js'
import { validateRulesText } from '../../../shared/rules/validate.js'

const event = (body: string, preview = false) => ({
  version: 'v1',
  rawPath: '/',
  body,
  isBase64Encoded: false,
  headers: { 'content-type': 'application/json' },
  queryParameters: preview ? { preview: '' } : {},
  requestContext: { requestId: 'r', http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' } },
})

async function call(
  body: string,
  preview = false,
): Promise<{ status: number; json: { errors?: Array<{ path: string; message: string }> }; heapMB: number }> {
  const heap = process.memoryUsage().heapUsed
  const r = await handler(event(body, preview), { requestId: 'r' })
  return { status: r.statusCode, json: JSON.parse(r.body), heapMB: (process.memoryUsage().heapUsed - heap) / 1e6 }
}

const cases: Array<[string, string, number, RegExp, boolean?]> = [
  ['JSON arrays nested 400,000 deep', '['.repeat(400_000) + ']'.repeat(400_000), 400, /nests brackets more than 64 deep/],
  [
    'JSON objects nested 100,000 deep',
    '{"rules":' + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000) + '}',
    400,
    /nests brackets more than 64 deep/,
  ],
  [
    'YAML flow sequences nested 200,000 deep',
    'rules: ' + '['.repeat(200_000) + ']'.repeat(200_000),
    400,
    /nests brackets more than 64 deep/,
  ],
  [
    'YAML block sequences nested 1,000 deep',
    'rules:\n' + Array.from({ length: 1000 }, (_, i) => ' '.repeat(i + 1) + '- ').join('\n'),
    400,
    /indented more than 256 characters/,
  ],
  ['a rules list of 400,000 entries', '{"rules":[' + Array(400_000).fill('1').join(',') + ']}', 422, /must hold at most 1000 rules/],
  ['a rules list of 60,000 objects', '{"rules":[' + Array(60_000).fill('{"id":"x"}').join(',') + ']}', 422, /must hold at most 1000 rules/],
  [
    'defaults with 60,000 unknown keys',
    '{"rules":[],"defaults":{' + Array.from({ length: 60_000 }, (_, i) => `"k${i}":1`).join(',') + '}}',
    422,
    /unknown key "k0"/,
  ],
  [
    'an alias bomb',
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' +
      Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(',')}]`,
      ).join('\n') +
      '\nrules: []\n',
    400,
    /alias/i,
  ],
]

describe('hostile requests to validate-rules are refused by their guards, with memory bounded', () => {
  for (const [name, body, status, message, preview] of cases) {
    test(name, async () => {
      assert.ok(Buffer.byteLength(body) <= 1024 * 1024, 'fits the 1 MB body limit, so it reaches the parser')
      const r = await call(body, preview)
      assert.equal(r.status, status)
      assert.match(r.json.errors![0]!.message, message)
      assert.ok(r.json.errors!.length <= 1001, 'the response is capped at 1,000 errors and a line that counts the rest')
      assert.ok(r.heapMB < 100, `heap grew ${r.heapMB.toFixed(0)} MB`)
    })
  }
})

test('a preview of an event nested 300,000 deep is answered: that entry would be a dead letter', async () => {
  const body = JSON.stringify({ rules: 'rules: []', event: 'x' }).replace('"x"', '[' + '['.repeat(300_000) + ']'.repeat(300_000) + ']')
  const r = await call(body, true)
  assert.equal(r.status, 200)
  assert.match(JSON.stringify(r.json), /\[0\]: must be an object with topic and body/)
})

describe('nesting guard', () => {
  test('real rule files pass', () => {
    assert.equal(nestingProblem(readFileSync(new URL('../../../rules.yaml', import.meta.url), 'utf8')), undefined)
    assert.ok(validateRulesText(readFileSync(new URL('../../../rules.yaml', import.meta.url), 'utf8')).ok)
  })
  test('brackets in quoted strings and comments do not count', () => {
    const deep = '['.repeat(MAX_NESTING + 5)
    assert.equal(nestingProblem(`a: "${deep}"\nb: '${deep}'\n# ${deep}\nc: "esc \\" ${deep}"\n`), undefined)
    assert.match(nestingProblem(`a: ${deep}`)!, /line 1 nests brackets more than 64 deep/)
    // A quote inside a plain scalar opens no string: the brackets after it still count.
    assert.match(nestingProblem(`a: it's\nb: ${deep}`)!, /line 2 nests brackets more than 64 deep/)
    assert.match(
      nestingProblem(`a: say "hi
text ${deep}`)!,
      /line 2 nests brackets/,
    )
  })
  test('64 levels are fine, 65 are not', () => {
    assert.equal(nestingProblem('['.repeat(MAX_NESTING) + ']'.repeat(MAX_NESTING)), undefined)
    assert.ok(nestingProblem('['.repeat(MAX_NESTING + 1)))
  })
})
