// The rules for every UTF-8 string the bridge sends (topics, content type, user property names and values),
// MQTT 5 §1.5.4, applied on both protocol versions: a broker may close the connection on a string that
// breaks them (Mosquitto does), which would fail every message behind it, so they are checked at mapping time.

/** U+0001–U+001F, U+007F–U+009F: control characters. */
const CONTROL = /[\u0001-\u001F\u007F-\u009F]/
/** U+FDD0–U+FDEF and the last two code points of each of the 17 planes (U+xFFFE, U+xFFFF). */
const NON_CHARACTER = new RegExp(
  `[\\u{FDD0}-\\u{FDEF}${Array.from({ length: 17 }, (_, plane) => `\\u{${(plane * 0x10000 + 0xfffe).toString(16)}}\\u{${(plane * 0x10000 + 0xffff).toString(16)}}`).join('')}]`,
  'u',
)
const FORBIDDEN = 'which MQTT forbids in a UTF-8 string'

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`

/** The first code point MQTT forbids in `s`, described with its reason; undefined when there is none. */
export function forbiddenCharacter(s: string): string | undefined {
  if (s.includes('\u0000')) return `contains a NUL character (U+0000), ${FORBIDDEN}`
  if (!s.isWellFormed()) {
    const at = [...s].find((c) => c.length === 1 && c >= '\uD800' && c <= '\uDFFF')!
    return `is not well-formed Unicode: it contains a lone surrogate ${hex(at.charCodeAt(0))}, ${FORBIDDEN}`
  }
  const control = CONTROL.exec(s)
  if (control) return `contains ${hex(control[0].charCodeAt(0))} (a control character), ${FORBIDDEN}`
  const nonCharacter = NON_CHARACTER.exec(s)
  if (nonCharacter) return `contains ${hex(nonCharacter[0].codePointAt(0)!)} (a non-character), ${FORBIDDEN}`
  return undefined
}

/** Why `s` cannot be sent as an MQTT UTF-8 string (forbidden code points, over 65535 bytes), or undefined. */
export function mqttStringProblem(s: string): string | undefined {
  const bad = forbiddenCharacter(s)
  if (bad) return bad
  if (Buffer.byteLength(s, 'utf8') > 65535) return 'is longer than 65535 bytes, the most an MQTT string can hold'
  return undefined
}
