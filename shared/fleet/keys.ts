// The fleet store's key names. Readable on purpose: an operator can find a message with
// `SCAN 0 MATCH rmqb:m:{<rule>}:<message ID>:*`. The rule's hash tag puts every key a script touches in one
// slot (scripts.ts). Rule IDs are [A-Za-z0-9_-] (docs/rules.md), so the first `{…}` is always the rule's.
import { randomBytes } from 'node:crypto'

const PREFIX = 'rmqb'

/** Characters of the content fingerprint a key keeps: 132 bits, which tell apart any two contents of one message ID. */
const FINGERPRINT_CHARS = 22

/** A message: its rule, its message ID and the fingerprint of what is published (delivered-memory.ts), shortened. */
export function messageKey(ruleId: string, messageId: string, fingerprint: string): string {
  return `${PREFIX}:m:{${ruleId}}:${messageId}:${fingerprint.slice(0, FINGERPRINT_CHARS)}`
}

/** Owner records of a rule's keys: this prefix and the owner token. */
export function ownerPrefix(ruleId: string): string {
  return `${PREFIX}:o:{${ruleId}}:`
}

/** The fleet's token bucket, and the capped log of what it granted, in one slot. */
export const RATE_BUCKET = `${PREFIX}:{rate}`
export const RATE_LOG = `${PREFIX}:{rate}:log`

/** A token no other invocation anywhere has: 16 random bytes, URL-safe. */
export function randomToken(): string {
  return randomBytes(12).toString('base64url')
}
