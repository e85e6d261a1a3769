// validate-rules answers hostile 1 MB bodies with bounded memory and bounded work. Each body runs in its own
// child process with a 64 MB heap (a body that once needed 1.97 GB would crash it); the work is bounded by
// the parser's caps, which each answer names (tokens read, errors kept, errors per rule). No wall-clock
// bound is asserted: speed is the benchmark's business.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { BodySpec } from './validate-rules-child.js'

const CHILD = fileURLToPath(new URL('./validate-rules-child.ts', import.meta.url))
const HEAP_MB = 64
/** Only so that a hung child cannot hang the suite; nothing is timed. */
const HANG_GUARD_MS = 120_000

interface Answer {
  status: number
  bytes: number
  errors: number
  first?: { path: string; message: string }
}

function run(spec: BodySpec): Answer {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', CHILD, JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  })
  assert.equal(r.status, 0, `the child failed (out of memory?): ${r.stderr.slice(-600)}`)
  return JSON.parse(r.stdout) as Answer
}

const MB = 1024 * 1024

const cases: Array<[string, BodySpec, number, RegExp]> = [
  ['~524,000 short lines, each a YAML error', { repeat: ']\n', times: MB / 2 }, 400, /Unexpected flow-seq-end/],
  ['one line of a million errors', { repeat: ']', times: MB }, 400, /Unexpected flow-seq-end/],
  ['a mapping of 200,000 copies of one key', { repeat: 'a: 1\n', times: MB / 5 }, 400, /YAML tokens; send a rule set this large as JSON/],
  ['70,000 flow sequences', { repeat: '- [a, b, c, d]\n', times: Math.floor(MB / 15) }, 400, /YAML tokens/],
  ['350,000 anchors', { repeat: '&a\n', times: Math.floor(MB / 3) }, 400, /YAML tokens|anchor/],
  ['1,000 overlapping rules', { overlappingRules: 1000 }, 422, /overlaps rules\[0\]/],
]

describe(`validate-rules bounds (child process, ${HEAP_MB} MB heap)`, () => {
  for (const [name, spec, status, message] of cases) {
    test(`${name}: ${status}`, () => {
      const a = run(spec)
      assert.ok(a.bytes <= MB, `the body (${a.bytes} bytes) fits the 1 MB limit, so it reaches the parser`)
      assert.equal(a.status, status, JSON.stringify(a.first))
      assert.match(a.first!.message, message)
      assert.ok(a.errors <= 1001, `at most 1,000 errors and a line that counts the rest, got ${a.errors}`)
    })
  }
})
