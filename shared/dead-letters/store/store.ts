// The dead-letter store: plain files under one directory (DEAD_LETTER_DIR, a NAS mount on Function
// Compute), so jq works on it. Like Powertools' idempotency layer, it is a few small operations (put an
// entry, mark it, read them, take a turn on one, remove a day) whose atomicity comes from one conditional
// write each (a mkdir, or a link that fails if the name exists), never from a lock held or a sleep.
//
//   dead-letters-<day>-<writer>.jsonl   entries: one JSON line per message (entry.ts), never rewritten
//   markers-<day>-<writer>.jsonl        facts about entries, appended (markers.ts)
//   keys/<2 hex>/<key>/                 the index: this key is stored ...
//   keys/<2 hex>/<key>/<16 hex>/        ... and this request reported it
//   keys/<2 hex>/<key>/turn-<n>[.<s>]   who acts on it, one at a time (turns.ts)
//   keys/<2 hex>/<key>/carried-<day>/   its line was copied to that day's files (I8)
//   parts/<group>/, parts-done/<group>  a message too big for one hand-off, arriving in parts (parts.ts)
//
// The invariants (docs/operations.md, "The store's invariants"):
// I1 One writer per file. <writer> is a random token made once per process: two instances (two NFS
//    clients) never append to one file, and within a process appends to a file run in turn (fs.ts).
// I2 Indexed means stored. A key's index directory is made only after its line is durable (written and
//    fsynced). A crash in between leaves a line without an index: the message comes back (its sender is
//    retried), is written again, and readers count the second line as a report, never a second entry.
// I3 Storing never reads the store: whether a key is stored, and by which request, is one stat each.
// I4 Nothing is rewritten. An entry is its line with its markers folded in (markers.ts), whatever the
//    order of the files; every marker's `at` is this store's clock, stamped here (mark()).
// I5 One actor per entry at a time. Sending, discarding or expiring an entry takes its next turn first:
//    turn n+1 is created (one conditional write) only by one who found turn n ended or past its `until`;
//    a racer that read an older state asks for a turn that exists, and loses. Every marker of an action
//    names its turn; one who takes a turn over one it did not see, ended other than pending or lapsed (its
//    holder may have acted), reads the entry's markers again before acting (take()).
// I6 Every file-system call ends by the deadline on the store's one clock (fs.ts), and a turn's `until`
//    is its holder's deadline, so no holder writes after its turn has lapsed.
// I7 Retention removes whole day files, their index first (retention.ts): an index entry without its
//    line would make a new report of the message look like a duplicate; a key carried (I8) to a kept file keeps it.
// I8 A recent failure keeps its entry. One whose line is older than a windowed read (redrive's) but that a
//    failed-again marker of the window names is carried: its markers and its line are copied to today's files,
//    then a carried-<day> mark is made (last: a mark keeps the index only once the line is in a kept file, I7).
//    Readers keep a key's first line, and count a copy of its line or of a marker once.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { z } from 'zod'
import { type EntryLine, type EntryStatus, entryLineSchema, type StoredDeadLetter } from './entry.js'
import { BoundedFs, type Deadline, type StoreClock } from './fs.js'
import { entryKey } from './keys.js'
import { addMarker, foldEntry, type Marker, type MarkerStates, markerSchema, type NewMarker, reportOf } from './markers.js'
import { type Claim, endTurn, takeTurn } from './turns.js'

/** This process's writer token (I1). */
export const PROCESS_WRITER = randomBytes(6).toString('hex')
export type StoreFileKind = 'dead-letters' | 'markers'
/** One of the store's files; `day`: the UTC day its writer wrote it on, YYYY-MM-DD. */
export type StoreFile = { kind: StoreFileKind; day: string; name: string; path: string }
const FILE = /^(dead-letters|markers)-(\d{4}-\d{2}-\d{2})-([0-9a-z]{1,32})\.jsonl$/
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)
export const storeFileName = (kind: StoreFileKind, ms: number, writer: string) => `${kind}-${dayOf(ms)}-${writer}.jsonl`

/** `deadline`: when every call must be done, on `clock` (the invocation's deadline). */
export type StoreOptions = { clock?: StoreClock; deadline?: Deadline; writer?: string }
/** What put() did with each entry: stored it, recorded another request's report of it, or nothing (a retried delivery). */
export type PutResult = { stored: number; failedAgain: number; duplicates: number; outcomes: ('stored' | 'failed-again' | 'duplicate')[] }
/** A line a reader could not use: reported, never skipped silently. */
export type UnreadableLine = { file: string; line: number; problem: string }
/** Only files written on `fromDay` (a UTC day) or later, and before `beforeDay`; only lines of `keys`. */
export type ReadOptions = { fromDay?: string; beforeDay?: string; keys?: Set<string>; onUnreadable?: (u: UnreadableLine) => void }
/** An entry as put() takes it: its line without the store's own stamp. */
export type NewEntry = Omit<EntryLine, 'storedAt'>

export class DeadLetterStore {
  readonly fs: BoundedFs
  readonly writer: string

  constructor(
    readonly dir: string,
    options: StoreOptions = {},
  ) {
    this.fs = new BoundedFs(options.clock, options.deadline)
    this.writer = options.writer ?? PROCESS_WRITER
  }

  now(): number {
    return this.fs.clock.now()
  }

  /** The same store with another deadline (the replay CLI bounds each entry's calls by its turn). */
  until(deadline: Deadline): DeadLetterStore {
    return new DeadLetterStore(this.dir, { clock: this.fs.clock, deadline, writer: this.writer })
  }

  keyDir(key: string): string {
    if (!/^[0-9a-f]{32}$/.test(key)) throw new Error(`not a dead-letter key: ${JSON.stringify(key).slice(0, 80)}`)
    return join(this.dir, 'keys', key.slice(0, 2), key)
  }

  /** The index entry (a directory) that says this request reported this key. */
  reporterDir(key: string, requestId: string | undefined): string {
    return join(this.keyDir(key), entryKey('reporter', requestId ?? '').slice(0, 16))
  }

  private async append(kind: StoreFileKind, lines: unknown[]): Promise<void> {
    if (lines.length === 0) return
    await this.fs.ensureDir(this.dir)
    const path = join(this.dir, storeFileName(kind, this.now(), this.writer))
    if (await this.fs.appendLines(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`)) await this.fs.syncDir(this.dir)
  }

  /** put: stores the entries not stored yet (I2, I3); a stored key reported by another request gets a failed-again marker. */
  async put(entries: NewEntry[]): Promise<PutResult> {
    await this.fs.ensureDir(this.dir)
    const stored = async (e: NewEntry) =>
      (await this.fs.exists(this.keyDir(e.key))) && ((await this.fs.exists(this.reporterDir(e.key, e.requestId))) ? 'reported' : 'stored')
    const known = await Promise.all(entries.map(stored))
    const storedAt = new Date(this.now()).toISOString()
    const [fresh, again, outcomes]: [EntryLine[], NewMarker[], PutResult['outcomes']] = [[], [], []]
    const seen = new Map<string, Set<string | undefined>>()
    for (const [i, e] of entries.entries()) {
      const inCall = seen.get(e.key)
      if (inCall?.has(e.requestId) || (known[i] === 'reported' && !inCall)) outcomes.push('duplicate')
      else if (!inCall && !known[i]) outcomes.push('stored') && fresh.push({ ...e, storedAt })
      else outcomes.push('failed-again') && again.push(reportOf(e))
      seen.set(e.key, new Set([...(inCall ?? []), e.requestId]))
    }
    // Entries first: a marker means something once its entry is durable; the index last of all (I2).
    await this.append('dead-letters', fresh)
    await this.mark(again)
    await Promise.all([...fresh, ...again].map((e) => this.index(e.key, e.requestId)))
    const count = (o: string) => outcomes.filter((x) => x === o).length
    return { stored: count('stored'), failedAgain: count('failed-again'), duplicates: count('duplicate'), outcomes }
  }

  /** The key's directory (and its prefix, when missing), then the reporter's: racing writers are harmless. */
  private async index(key: string, requestId: string | undefined): Promise<void> {
    await this.fs.ensureDir(this.keyDir(key))
    await this.fs.mkdirExclusive(this.reporterDir(key, requestId))
  }

  /** update: appends markers, stamped with this store's clock (I4), durable before it returns. */
  async mark(markers: NewMarker[]): Promise<void> {
    const at = new Date(this.now()).toISOString()
    const stamped = markers.map((m) => ({ ...m, at }))
    await this.append('markers', stamped)
  }

  /** Takes the entry's next turn (I5) for `holder` until `until`; `seen` is the turn the caller read. */
  takeTurn(key: string, holder: string, until: number, seen: number): Promise<Claim> {
    return takeTurn(this.fs, this.keyDir(key), holder, until, seen)
  }

  endTurn(key: string, turn: number, status: EntryStatus): Promise<void> {
    return endTurn(this.fs, this.keyDir(key), turn, status)
  }

  /**
   * Takes the turns of these entries (as read) for `holder` until `until`: `held`, to act on; `busy`, held by
   * another; `settled`, left replayed, discarded or expired since they were read, as their markers (of `fromDay`
   * on) read again say (I5); their turn is ended again with that status, so whoever comes next sees it too.
   */
  async take<E extends StoredDeadLetter>(entries: E[], holder: string, until: number, fromDay?: string) {
    const out = {
      held: [] as Array<E & { turn: number }>,
      busy: [] as Array<{ entry: E } & Extract<Claim, { kind: 'busy' }>>,
      settled: [] as Array<{ entry: E; status: EntryStatus }>,
    }
    const claims: Array<[E, Claim]> = []
    for (const entry of entries) claims.push([entry, await this.takeTurn(entry.key, holder, until, entry.turn)])
    // Read once every turn is taken: a lapsed holder's last write ended by its `until` (I6), before this read.
    const stale = (c: Claim) => c.kind === 'held' && c.since !== undefined && c.since !== 'pending'
    const states = claims.some(([, c]) => stale(c)) ? await this.markers(fromDay === undefined ? {} : { fromDay }) : undefined
    for (const [entry, c] of claims) {
      const status = stale(c) ? foldEntry(entry, states?.get(entry.key)).status : 'pending'
      if (c.kind === 'busy') out.busy.push({ entry, ...c })
      else if (status === 'pending') out.held.push({ ...entry, turn: c.turn })
      else await this.endTurn(entry.key, c.turn, status).then(() => out.settled.push({ entry, status }))
    }
    return out
  }

  /** The store's files of one kind, by day, then name: the order readers merge them in. */
  async files(kind: StoreFileKind, fromDay = '', beforeDay = '~'): Promise<StoreFile[]> {
    const out: StoreFile[] = []
    for (const name of await this.fs.list(this.dir)) {
      const m = FILE.exec(name)
      if (m?.[1] === kind && m[2]! >= fromDay && m[2]! < beforeDay) out.push({ kind, day: m[2]!, name, path: join(this.dir, name) })
    }
    return out.sort((a, b) => a.day.localeCompare(b.day) || a.name.localeCompare(b.name))
  }

  /** The JSON values of a file's lines, streamed; lines that are not JSON go to onUnreadable. */
  async *values(file: StoreFile, o: ReadOptions = {}): AsyncGenerator<{ value: unknown; line: number; chars: number }> {
    for await (const l of this.fs.lines(file.path))
      try {
        if (l.ok) yield { value: JSON.parse(l.text), line: l.line, chars: l.text.length }
        else o.onUnreadable?.({ file: file.name, line: l.line, problem: l.problem })
      } catch (err) {
        // A torn line from a crash mid-write: the record it held was not acknowledged, so it was retried.
        o.onUnreadable?.({ file: file.name, line: l.line, problem: `not JSON (${(err as Error).message.slice(0, 80)})` })
      }
  }

  /** Values that match `schema`; the others are reported with why: a format this store does not write is never guessed at. */
  private async *parsed<T extends { key: string }>(kind: StoreFileKind, schema: z.ZodType<T, z.ZodTypeDef, unknown>, o: ReadOptions) {
    for (const file of await this.files(kind, o.fromDay, o.beforeDay))
      for await (const { value, line, chars } of this.values(file, o)) {
        const r = schema.safeParse(value)
        if (r.success) yield* o.keys && !o.keys.has(r.data.key) ? [] : [{ data: r.data, file, chars }]
        else {
          const { path, message } = r.error.issues[0]!
          const problem = `not a ${kind === 'markers' ? 'marker' : 'dead-letter entry'} of this store's format: ${path.join('.') || 'line'}: ${message}`
          o.onUnreadable?.({ file: file.name, line, problem })
        }
      }
  }

  /** Every marker, by key. */
  async markers(o: ReadOptions = {}): Promise<MarkerStates> {
    const states: MarkerStates = new Map()
    for await (const { data } of this.parsed<Marker>('markers', markerSchema, o)) addMarker(states, data)
    return states
  }

  /** Every entry line, streamed in file order, each key once; a later line of a key (raced writers, I2) goes to `onDuplicate`. */
  async *lines(o: ReadOptions & { onDuplicate?: (l: EntryLine) => void } = {}) {
    const seen = new Set<string>()
    for await (const { data, file, chars } of this.parsed<EntryLine>('dead-letters', entryLineSchema, o))
      if (seen.has(data.key)) o.onDuplicate?.(data)
      else yield seen.add(data.key) && { line: data, file, chars }
  }

  /**
   * Every entry with its markers folded in, streamed (a raced second line of a key is left out: readAll counts
   * it); with `fromDay`, also each older entry that a failed-again marker of those days names, carried first (I8).
   */
  async *entries(o: ReadOptions = {}): AsyncGenerator<{ entry: StoredDeadLetter; file: StoreFile; chars: number }> {
    const states = await this.markers(o)
    const keys = new Set([...states].filter(([, ms]) => ms.some((m) => m.marker === 'failed-again')).map(([k]) => k))
    for await (const { line, file, chars } of this.lines(o)) {
      keys.delete(line.key)
      yield { entry: foldEntry(line, states.get(line.key)), file, chars }
    }
    if (o.fromDay === undefined || keys.size === 0) return
    const older = { ...o, fromDay: '', beforeDay: o.fromDay, keys }
    const [carried, found] = [await this.markers(older), [] as Array<{ line: EntryLine; file: StoreFile; chars: number }>]
    for await (const l of this.lines(older)) found.push(l)
    const lines = found.map((f) => f.line)
    const moved = lines.flatMap((l) => carried.get(l.key) ?? [])
    await this.append('markers', moved)
    await this.append('dead-letters', lines)
    await Promise.all(lines.map((l) => this.fs.ensureDir(join(this.keyDir(l.key), `carried-${dayOf(this.now())}`))))
    for (const m of moved) addMarker(states, m)
    for (const { line, file, chars } of found) yield { entry: foldEntry(line, states.get(line.key)), file, chars }
  }

  /** Every entry, every report counted once (a raced second line too): for tools and tests, not big stores. */
  async readAll(o: ReadOptions = {}): Promise<StoredDeadLetter[]> {
    const states = await this.markers(o)
    const lines: EntryLine[] = []
    for await (const { line } of this.lines({ ...o, onDuplicate: (l) => addMarker(states, { ...reportOf(l), at: l.storedAt }) }))
      lines.push(line)
    return lines.map((l) => foldEntry(l, states.get(l.key)))
  }
}

/** Every entry of the store in `dir`, folded (DeadLetterStore.readAll). */
export const readDeadLetters = (dir: string, o: ReadOptions & StoreOptions = {}) => new DeadLetterStore(dir, o).readAll(o)
