// Which dead letters redrive may send again by itself: only those whose failure was transient (the
// broker was unreachable, an acknowledgement timed out, the connection was lost), never poison. A poison
// message that looked transient would be sent again and again; so anything not known to be transient is
// left to a person.
import type { FailureKind, StoredDeadLetter } from './record.js'

/** The bridge's error for messages the broker did not acknowledge (shared/errors.ts, DeliveryError). */
const DELIVERY_ERROR = 'DeliveryError'
const DELIVERY_TEXT = /\bmessages? not acknowledged by the MQTT broker\b/

/** The failure of a destination record, from the error the failed function returned. */
export function destinationFailure(error: { type?: string; message?: string } | undefined): FailureKind {
  if (error?.type === DELIVERY_ERROR) return 'transient'
  // Function Compute may report the error type as plain "Error"; the bridge's message says what it was.
  if (error?.message !== undefined && DELIVERY_TEXT.test(error.message) && (error.type === undefined || error.type === 'Error'))
    return 'transient'
  return 'unknown'
}

/** The stored classification, or, for entries stored before it was written, what their source and reason say. */
export function failureOf(e: Pick<StoredDeadLetter, 'failure' | 'source' | 'reason'>): FailureKind {
  if (e.failure !== undefined) return e.failure
  if (e.source === 'bridge-poison') return 'poison'
  if (e.source === 'async-destination' && DELIVERY_TEXT.test(e.reason)) return 'transient'
  return 'unknown'
}
