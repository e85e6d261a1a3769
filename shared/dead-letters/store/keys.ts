// The store's keys. A message is the same dead letter whoever reports it (the bridge's hand-off, a
// destination record, a replay dead-lettered again): its key is its message ID and a fingerprint of its
// content, so every report of it lands on one entry (docs/operations.md, "Entry format").
import { createHash } from 'node:crypto'
import { anyJsonText } from '../json-text.js'

export function entryKey(...parts: Array<string | undefined>): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('hex')
    .slice(0, 32)
}

/** Stable fingerprint of an event as kept (text as it is, anything else as its JSON text, however deep). */
export const fingerprint = (event: unknown) => entryKey(typeof event === 'string' ? event : anyJsonText(event))

/** The key of a message; without a message ID its batch position stands in (a retried batch keeps them). */
export const messageKey = (messageId: string | undefined, index: number, event: unknown) =>
  entryKey('message', messageId ?? `@${index}`, fingerprint(event))
