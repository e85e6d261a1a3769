// Which stored entries replay and redrive may send to the bridge: only what once was a bridge event,
// whole and as it was received. The others are for a person to read and discard.
import type { StoredDeadLetter } from './record.js'

/** Sources whose `event` is (part of) what the bridge received. */
const BRIDGE_EVENTS: ReadonlySet<StoredDeadLetter['source']> = new Set(['bridge-poison', 'async-destination'])

/** Why the entry must not be sent to the bridge, or undefined when it may be. */
export function notReplayable(e: Pick<StoredDeadLetter, 'source' | 'incomplete' | 'lossy'>): string | undefined {
  if (e.lossy) return 'not replayable: the bytes received were not valid UTF-8; what is stored is their decoding'
  if (e.incomplete) return 'not replayable: its parts did not all arrive, or did not fit together; discard it'
  if (!BRIDGE_EVENTS.has(e.source)) return `not replayable: a ${e.source} entry was never a bridge event; discard it`
  return undefined
}
