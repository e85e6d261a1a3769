// Dead letters keep the original entry verbatim, as JSON. An entry nested thousands deep (hostile input
// sent straight to the function) overflows JSON.stringify's stack; storing it would then fail on every
// retry and block the batch. Such an entry is stored as a description instead, and the reason says so.

import { messageOf } from '../errors.js'

export interface Storable {
  event: unknown
  /** Set when the entry could not be kept verbatim. */
  note?: string
}

export function storable(raw: unknown): Storable {
  try {
    JSON.stringify(raw)
    return { event: raw }
  } catch (err) {
    const kind = Array.isArray(raw) ? 'array' : typeof raw
    return {
      event: { unstorable: true, kind, error: messageOf(err) },
      note: `the entry (${kind}) cannot be stored verbatim: ${messageOf(err)}`,
    }
  }
}
