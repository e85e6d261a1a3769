// Every path into the store passes its items through here, one item at a time: an item that cannot be
// kept as JSON unchanged (nested too deep to write, a number JSON cannot write back) is kept as its raw
// text instead, with a note, so that storing it cannot fail on every retry and its neighbours are stored
// as usual. The bridge applies it to every dead letter it makes (shared/bridge/records.ts), broker
// refusals included; the dead-letter function to everything it receives (entries.ts).
import { jsonProblem, jsonText } from './json-text.js'
import type { DeadLetter } from './record.js'

export interface Storable {
  /** The item itself, or its JSON text when `eventText` is set. */
  event: unknown
  /** Set when `event` holds the item's text rather than the item. */
  eventText?: true
  /** Why the item is kept as text. */
  note?: string
}

/**
 * The item as the store keeps it. `rawText`, when the caller has the exact text the item was received
 * as, is what is kept for an item that cannot stay JSON; otherwise its text is written here.
 */
export function storable(raw: unknown, rawText?: string): Storable {
  const problem = jsonProblem(raw)
  if (problem === undefined) return { event: raw }
  const kind = Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw
  return {
    event: rawText ?? jsonText(raw),
    eventText: true,
    note: `the entry (${kind}) cannot be kept as JSON, ${problem}: stored as its JSON text`,
  }
}

/**
 * A dead letter made storable: the event kept as JSON where it can be, as text (with the note added to
 * the reason, so log lines show it) where it cannot.
 */
export function storableDeadLetter(fields: Omit<DeadLetter, 'event'>, event: unknown): DeadLetter {
  if (fields.eventText) return { ...fields, event }
  const kept = storable(event)
  if (!kept.eventText) return { ...fields, event: kept.event }
  return { ...fields, reason: `${fields.reason}; ${kept.note}`, event: kept.event, eventText: true }
}
