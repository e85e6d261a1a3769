// MQTT 5 §1.5.4: what no string the bridge sends may hold, named by its code point.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { forbiddenCharacter, mqttStringProblem } from '../../../shared/rules/mqtt-strings.js'

describe('MQTT UTF-8 strings (MQTT 5 §1.5.4)', () => {
  const cases: Array<[string, string, string]> = [
    ['a\u0000b', 'U+0000', 'NUL character'],
    ['a\u0001', 'U+0001', 'a control character'],
    ['\u001F', 'U+001F', 'a control character'],
    ['\u007F', 'U+007F', 'a control character'],
    ['x\u0085y', 'U+0085', 'a control character'],
    ['\u009F', 'U+009F', 'a control character'],
    ['\uFDD0', 'U+FDD0', 'a non-character'],
    ['\uFDEF', 'U+FDEF', 'a non-character'],
    ['\uFFFE', 'U+FFFE', 'a non-character'],
    ['ok \uFFFF', 'U+FFFF', 'a non-character'],
    ['\u{1FFFE}', 'U+1FFFE', 'a non-character'],
    ['\u{10FFFF}', 'U+10FFFF', 'a non-character'],
    ['ab\uD800', 'U+D800', 'lone surrogate'],
    ['\uDFFF', 'U+DFFF', 'lone surrogate'],
  ]
  for (const [text, codePoint, what] of cases) {
    test(`${JSON.stringify(text)}: ${codePoint}, ${what}`, () => {
      const problem = forbiddenCharacter(text)
      assert.ok(problem, `no problem found in ${JSON.stringify(text)}`)
      assert.ok(problem.includes(codePoint), problem)
      assert.ok(problem.includes(what), problem)
      assert.ok(problem.endsWith('which MQTT forbids in a UTF-8 string'), problem)
    })
  }

  test('allowed: tab-free text, the characters around the forbidden ranges, astral characters', () => {
    for (const ok of [
      'devices/room-1',
      ' ~',
      '\u00A0\u00A1',
      'é中文',
      '\uFDCF\uFDF0',
      '\uFFFD',
      '\u{1F600}',
      '\u{1FFFD}',
      '\u{10FFFD}',
      '',
    ])
      assert.equal(forbiddenCharacter(ok), undefined, JSON.stringify(ok))
  })

  test('the first forbidden character is the one named', () => {
    assert.match(forbiddenCharacter('a\u0085b\u0001')!, /^contains U\+0085/)
  })

  test('an MQTT string holds at most 65535 bytes', () => {
    assert.equal(mqttStringProblem('é'.repeat(32767)), undefined)
    assert.match(mqttStringProblem('é'.repeat(32768))!, /longer than 65535 bytes/)
  })
})
