// Deduplication keys of the store: a dead letter that comes back (a retried hand-off, a retried batch)
// maps to the key it was stored under.
import { createHash } from 'node:crypto'
import { anyJsonText } from './json-text.js'
import type { DeadLetter } from './record.js'

export function entryKey(...parts: Array<string | undefined>): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('hex')
    .slice(0, 32)
}

/** Stable fingerprint of a raw entry (text as it is, anything else as its JSON text, however deep). */
export function fingerprint(raw: unknown): string {
  return createHash('sha256')
    .update(typeof raw === 'string' ? raw : anyJsonText(raw))
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

/**
 * A message of a failed asynchronous invocation: its request, its message ID (or position) and a
 * fingerprint of its content, so a second record with the same IDs but other content is not lost.
 */
export function destinationKey(requestId: string, messageId: string | undefined, index: number, content: unknown): string {
  return entryKey('async', requestId, messageId ?? `#${index}`, fingerprint(content))
}
