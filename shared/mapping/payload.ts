// The payload of a publish: the body's bytes, untouched (docs/architecture.md, "Mapping"), UTF-8 of the string
// or base64-decoded when the rule says so, within the profile's size limit; or the reason it cannot be.
import { ok, type Result, refused } from '../errors.js'
import type { Profile } from '../rules/profiles.js'
import { quote } from '../rules/topics.js'

/**
 * Padded standard base64, its length checked apart: one greedy character class is linear, where a pattern of
 * 4-character groups overflowed V8's stack on a body of about 4.5 million characters and failed the whole batch.
 */
const BASE64_CHARACTERS = /^[A-Za-z0-9+/]*={0,2}$/
const isBase64 = (text: string) => text.length % 4 === 0 && BASE64_CHARACTERS.test(text)

/** The decoded size of padded base64 text, known before checking or decoding it. */
const base64Bytes = (text: string) => (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0)

const tooLarge = (bytes: number, profile: Profile) =>
  refused(`body: payload is ${bytes} bytes; profile ${profile.name} allows at most ${profile.maxPayloadBytes}`)

/** The payload bytes, or the reason (starting with `body:`) the body cannot be one. */
export function payloadOf(body: string, encoding: 'utf8' | 'base64', ruleId: string, profile: Profile): Result<Buffer> {
  let payload: Buffer
  if (encoding === 'base64') {
    // Line breaks of MIME-style base64 (76-character lines) are allowed; nothing else is.
    const text = body.includes('\n') ? body.replace(/\r?\n/g, '') : body
    // The size first: a body far over the limit is refused without being scanned or decoded.
    if (text.length % 4 === 0 && base64Bytes(text) > profile.maxPayloadBytes) return tooLarge(base64Bytes(text), profile)
    if (!isBase64(text)) return refused(`body: rule ${quote(ruleId)} declares base64, but the body is not valid base64`)
    payload = Buffer.from(text, 'base64')
  } else {
    if (!body.isWellFormed())
      return refused('body: not well-formed Unicode (lone surrogate); it cannot be sent as UTF-8 without changing it')
    payload = Buffer.from(body, 'utf8')
  }
  return payload.length > profile.maxPayloadBytes ? tooLarge(payload.length, profile) : ok(payload)
}
