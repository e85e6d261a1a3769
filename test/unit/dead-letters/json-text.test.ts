// The dead letters' JSON helpers that never recurse (shared/dead-letters/json-text.ts) and storable(): what a
// value deep enough to overflow JSON.stringify, or holding a number JSON cannot write back, becomes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  arrayItemTexts,
  jsonProblem,
  jsonText,
  MAX_JSON_DEPTH,
  storable,
  storableDeadLetter,
} from '../../../shared/dead-letters/json-text.js'

const SEED = 20_240_501
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)

describe('json-text', () => {
  test('jsonText writes what JSON.stringify writes, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => jsonText(v) === JSON.stringify(v)),
      { seed: SEED, numRuns: 2000 },
    )
  })

  test('arrayItemTexts cuts an array text into its items exactly, whitespace and all', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), fc.constantFrom('', ' ', '\n  ', '\t'), (items, space) => {
        const text = `${space}[${space}${items.map((i) => JSON.stringify(i, null, space ? 1 : 0)).join(`${space},${space}`)}${space}]${space}`
        const cut = arrayItemTexts(text)
        assert.ok(cut, text)
        assert.deepEqual(
          cut.map((t) => JSON.parse(t)),
          JSON.parse(text),
        )
      }),
      { seed: SEED, numRuns: 2000 },
    )
    assert.deepEqual(arrayItemTexts('[1e400, "a,]\\"b", {"x":[1,2]}]'), ['1e400', '"a,]\\"b"', '{"x":[1,2]}'])
    assert.equal(arrayItemTexts('{"not":"an array"}'), undefined)
  })

  test('a value 300,000 deep is written without recursion, and found too deep without recursion', () => {
    const text = deep(300_000)
    const value = JSON.parse(text) as unknown
    assert.throws(() => JSON.stringify(value), /Maximum call stack size exceeded/, 'the reason these helpers exist')
    assert.equal(jsonText(value), text)
    assert.match(jsonProblem(value) ?? '', /nested deeper than 100 levels/)
    assert.equal(jsonProblem(JSON.parse(deep(MAX_JSON_DEPTH))), undefined, 'as deep as the store keeps is fine')
  })

  test('Infinity (JSON 1e400) is a problem, and is written so that it parses back to Infinity', () => {
    const value = JSON.parse('{"a":[1e400,-1e400]}') as unknown
    assert.match(jsonProblem(value) ?? '', /number JSON cannot write back \(-?Infinity\)/)
    assert.deepEqual(JSON.parse(jsonText(value)), value)
  })
})

describe('storable', () => {
  test('a JSON value is kept as it is', () => {
    const v = { data: { body: 'x', n: [1, 2, { y: null }] } }
    assert.deepEqual(storable(v), { event: v })
  })

  test('an item too deep is kept as its text, with a note; the raw text given wins', () => {
    const value = JSON.parse(deep(5000)) as unknown
    const kept = storable(value)
    assert.equal(kept.event, deep(5000))
    assert.equal(kept.eventText, true)
    assert.match(
      kept.note ?? '',
      /the entry \(array\) cannot be kept as JSON, it is nested deeper than 100 levels: stored as its JSON text/,
    )
    assert.equal(storable(JSON.parse('[1e400]'), '[ 1e400 ]').event, '[ 1e400 ]')
  })

  test("storableDeadLetter keeps the bridge's text events as they are and notes the rest in the reason", () => {
    assert.deepEqual(storableDeadLetter({ index: 0, reason: 'event is not JSON', eventText: true, wholeEvent: true }, 'not {json'), {
      index: 0,
      reason: 'event is not JSON',
      eventText: true,
      wholeEvent: true,
      event: 'not {json',
    })
    const d = storableDeadLetter({ index: 3, reason: 'bad' }, JSON.parse(deep(200)))
    assert.equal(d.event, deep(200))
    assert.equal(d.eventText, true)
    assert.match(d.reason, /^bad; the entry \(array\) cannot be kept as JSON/)
  })
})
