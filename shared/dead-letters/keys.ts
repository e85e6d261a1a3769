// Deduplication keys of the store: a dead letter that comes back (a retried hand-off, a retried batch)
// maps to the key it was stored under.
import { createHash } from 'node:crypto'
import type { DeadLetter } from './record.js'

export function entryKey(...parts: Array<string | undefined>): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('hex')
    .slice(0, 32)
}

/** Stable fingerprint of a raw entry, for records that have no message ID. */
export function fingerprint(raw: unknown): string {
  return createHash('sha256')
    .update(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'undefined'))
    .digest('hex')
    .slice(0, 32)
}

/**
 * A poison message is the same dead letter whenever it comes back: key by rule, message ID and content.
 * Without a message ID, identical entries at different batch positions are different messages, so the
 * position is part of the key (a retried batch keeps its positions).
 */
export function poisonKey(m: Pick<DeadLetter, 'ruleId' | 'messageId' | 'event' | 'index'>): string {
  return entryKey('poison', m.ruleId, m.messageId ?? `@${m.index}`, fingerprint(m.event))
}
