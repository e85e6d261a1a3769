// Turns: who may act on an entry, one at a time (I5 in store.ts). Turn n is keys/<2 hex>/<key>/turn-<n>
// holding {holder, until}, published by one conditional write; its holder ends it with an empty
// turn-<n>.<status>, the entry's status after it.
import { join } from 'node:path'
import { ENTRY_STATUSES, type EntryStatus } from './entry.js'
import type { BoundedFs } from './fs.js'
import { timeOf } from './markers.js'

export type Claim =
  /** Taken: act, then end the turn. `since`: how the last turn, taken after the taker read the entry, ended (or lapsed). */
  | { kind: 'held'; turn: number; since?: EntryStatus | 'lapsed' }
  /** Another holder's turn is open. */
  | { kind: 'busy'; holder: string; until: string }

const TURN = /^turn-(\d{1,9})(?:\.([a-z]+))?$/

/** The next turn, unless the last is open; the last turn, when after `seen` (the caller's read), says what became of it. */
export async function takeTurn(fs: BoundedFs, keyDir: string, holder: string, until: number, seen: number): Promise<Claim> {
  if (!Number.isFinite(until)) throw new Error(`a turn needs a finite end, not ${until}: give the run a deadline`)
  await fs.ensureDir(keyDir)
  const ended = new Map<number, EntryStatus>()
  let last = 0
  for (const name of await fs.list(keyDir)) {
    const m = TURN.exec(name)
    if (!m) continue
    const n = Number(m[1])
    last = Math.max(last, n)
    if (m[2] !== undefined && (ENTRY_STATUSES as readonly string[]).includes(m[2])) ended.set(n, m[2] as EntryStatus)
  }
  if (last > 0 && !ended.has(last)) {
    const open = await readTurn(fs, keyDir, last)
    if (timeOf(open.until) > fs.clock.now()) return { kind: 'busy', ...open }
  }
  const turn = last + 1
  const taken = await fs.publishExclusive(join(keyDir, `turn-${turn}`), JSON.stringify({ holder, until: new Date(until).toISOString() }))
  // Another taker read the same last turn and made this one first: its turn is open now.
  if (!taken) return { kind: 'busy', ...(await readTurn(fs, keyDir, turn)) }
  // An earlier ended turn says nothing of what a lapsed later one did (it may have sent the entry): the last one only.
  const since = last > seen ? (ended.get(last) ?? 'lapsed') : undefined
  return { kind: 'held', turn, ...(since !== undefined ? { since } : {}) }
}

/** Ends the turn with the entry's status after it; a holder past its `until` has lost nothing to another yet. */
export async function endTurn(fs: BoundedFs, keyDir: string, turn: number, status: EntryStatus): Promise<void> {
  await fs.publishExclusive(join(keyDir, `turn-${turn}.${status}`), '')
}

async function readTurn(fs: BoundedFs, keyDir: string, n: number): Promise<{ holder: string; until: string }> {
  const text = (await fs.read(join(keyDir, `turn-${n}`))) ?? '{}' // gone: retention removed its key meanwhile
  let v: { holder?: unknown; until?: unknown } = {}
  try {
    v = JSON.parse(text)
  } catch {
    // Torn (by hand: the store publishes turns whole): as good as lapsed. A read that fails still throws, above.
  }
  return { holder: typeof v.holder === 'string' ? v.holder : 'unknown', until: typeof v.until === 'string' ? v.until : '' }
}
