// The event replay and redrive send the bridge for stored entries: exactly what was received. A whole
// event goes as it came (a JSON string stays a JSON string, never unwrapped into a batch); batch entries
// go as a batch of them, in their order.
import { anyJsonText } from './json-text.js'
import type { StoredDeadLetter } from './record.js'

type Sendable = Pick<StoredDeadLetter, 'event' | 'eventText' | 'wholeEvent' | 'reason'>

/** Entries stored before `wholeEvent`/`eventText` existed: a string event was raw text only when it was not JSON. */
function legacyForm(e: Sendable): { whole: boolean; text: boolean } {
  if (e.wholeEvent !== undefined || e.eventText !== undefined || typeof e.event !== 'string')
    return { whole: !!e.wholeEvent, text: !!e.eventText }
  if (e.reason.startsWith('event is not JSON')) return { whole: true, text: true }
  if (e.reason.startsWith('event must be a JSON array or object')) return { whole: true, text: false }
  return { whole: false, text: false }
}

/** The JSON text of one entry as it was received (its raw text, when that is what the store kept). */
function entryText(e: Sendable, text: boolean): string {
  return text ? String(e.event) : anyJsonText(e.event)
}

/** The bytes of one whole event, or of a batch of these entries (all of them batch entries). */
export function replayEvent(entries: Sendable | Sendable[]): Buffer {
  const list = Array.isArray(entries) ? entries : [entries]
  if (list.length === 1) {
    const form = legacyForm(list[0]!)
    if (form.whole) return Buffer.from(entryText(list[0]!, form.text), 'utf8')
  }
  return Buffer.from(`[${list.map((e) => entryText(e, legacyForm(e).text)).join(',')}]`, 'utf8')
}

/** Whether an entry can go in one batch with others (a whole event cannot). */
export function isBatchEntry(e: Sendable): boolean {
  return !legacyForm(e).whole
}
