// Parts of a poison message too big for one asynchronous invoke (handoff/pack.ts), put back together under
// <dir>/parts/<group>/. A part out of range, out of proportion or disagreeing with its group's first part
// (meta.json) is refused: stored as an entry of its own. When all are in, the checksum decides between one
// entry and one marked incomplete; so does the timer for a group older than PART_TTL_MS (sweepParts). A
// done group is remembered under parts-done/, so a part delivered again is a duplicate, not a new group.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { HAND_OFF_BUDGET } from '../handoff/pack.js'
import type { PoisonPartRecord } from '../record.js'
import { isObject, poisonEntries } from './entries.js'
import { entryKey } from './keys.js'
import { timeOf } from './markers.js'
import type { DeadLetterStore, NewEntry } from './store.js'

/** The largest message a part group can carry: Function Compute's synchronous request limit (docs/platform-facts.md §4). */
export const MAX_PARTED_BYTES = 32 * 1024 * 1024
/** handoff/pack.ts never cuts parts smaller than this. */
const MIN_PART_DATA = 1024
/** The longest message ID a part record can carry with room for its data (handoff/pack.ts HAND_OFF_BUDGET). */
const MAX_PART_MESSAGE_ID = HAND_OFF_BUDGET - MIN_PART_DATA
/** How long a group may wait for its last part before it is stored incomplete. */
export const PART_TTL_MS = 6 * 60 * 60 * 1000
/** How long a group without meta.json is left alone before the sweep removes it: far longer than any invocation. */
export const EMPTY_GROUP_GRACE_MS = 60 * 60 * 1000

export const partGroup = (p: PoisonPartRecord) => entryKey('part', p.requestId, String(p.message.index), p.part.sha256)

type Meta = Pick<PoisonPartRecord, 'requestId' | 'failedAt' | 'message'> &
  Pick<PoisonPartRecord['part'], 'count' | 'bytes' | 'sha256'> & { createdAt?: string }
/** What every part of a group must agree on, kept in meta.json with when the group began. */
const metaOf = ({ requestId, failedAt, message, part: { count, bytes, sha256 } }: PoisonPartRecord): Meta => ({
  requestId,
  failedAt,
  message,
  count,
  bytes,
  sha256,
})
/**
 * What identifies the message, in one order (zod gives every part's in its schema's). Not when or why it failed
 * (failedAt, reason, ageMs): a retried hand-off of the same request stamps those anew and must still complete
 * the group (the first attempt's are kept). A different message (ID, rule, flags, size, checksum) is refused.
 */
const agreed = ({ requestId, message: { reason: _r, ageMs: _a, ...message }, count, bytes, sha256 }: Meta) =>
  JSON.stringify({ requestId, message, count, bytes, sha256 })

/** A group's meta.json, or why it cannot be read (one torn by a store older than whole-file writes, or edited). */
function metaFrom(text: string): Meta | string {
  try {
    const meta = JSON.parse(text) as Meta
    if (isObject(meta) && typeof meta.count === 'number' && isObject(meta.message)) return meta
    return "its meta.json is not a part group's metadata"
  } catch (err) {
    return `its meta.json is not JSON (${(err as Error).message.slice(0, 80)})`
  }
}

/** Why a part cannot belong to any message, or undefined. */
export function partProblem(p: PoisonPartRecord): string | undefined {
  const { index, count, bytes, data } = p.part
  if (bytes > MAX_PARTED_BYTES) return `it declares ${bytes} bytes, more than the ${MAX_PARTED_BYTES} a message can have`
  const encoded = 4 * Math.ceil(bytes / 3)
  const most = Math.max(1, Math.ceil(encoded / MIN_PART_DATA))
  if (count > most) return `it declares ${count} parts, more than the ${most} that ${bytes} bytes can take`
  if (index >= count) return `its index ${index} is not below its count ${count}`
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return 'its data is not base64'
  if (encoded > 0 && data.length === 0) return 'it carries no data'
  // pack.ts cuts equal slices and a shorter last one: any other size cannot be part of the whole.
  if (index < count - 1 && !((count - 1) * data.length < encoded && encoded <= count * data.length))
    return `its ${data.length} characters of data cannot be one of ${count} equal slices of ${encoded}`
  if (index === count - 1 && data.length > encoded - (count - 1)) return `its ${data.length} characters of data do not fit in ${encoded}`
  if (p.message.reason.length > 2100 || (p.message.ruleId?.length ?? 0) > 200)
    return 'its reason or rule ID is longer than a bridge ever sends'
  // RocketMQ and CloudEvents set no limit on a message ID, and the bridge keeps any: the entry cuts it at
  // 200 characters with a note, as it does a whole poison record's (entries.ts). Only one that leaves a part
  // no room for data cannot come from pack.ts; the group's name is a digest whatever the ID's length.
  if ((p.message.messageId?.length ?? 0) > MAX_PART_MESSAGE_ID) return 'its message ID is longer than a part record can carry'
  return undefined
}

export type PartOutcome =
  | { kind: 'refused'; why: string }
  | { kind: 'waiting'; group: string; have: number; count: number }
  | { kind: 'complete'; group: string; have: number; count: number; entries: NewEntry[] }
  /** Its group is done already: a part delivered again (Function Compute delivers at least once). */
  | { kind: 'duplicate'; group: string; count: number }

const doneFile = (s: DeadLetterStore, group: string) => join(s.dir, 'parts-done', group)

/** Stores one part; when it completes its group, returns the entries to store (then clearGroup). */
export async function storePart(s: DeadLetterStore, p: PoisonPartRecord): Promise<PartOutcome> {
  const problem = partProblem(p)
  if (problem !== undefined) return { kind: 'refused', why: problem }
  const group = partGroup(p)
  if (await s.fs.exists(doneFile(s, group))) return { kind: 'duplicate', group, count: p.part.count }
  const dir = join(s.dir, 'parts', group)
  await s.fs.ensureDir(dir)
  let meta = metaOf(p)
  const text = JSON.stringify({ ...meta, createdAt: new Date(s.now()).toISOString() })
  if (!(await s.fs.publishExclusive(join(dir, 'meta.json'), text))) {
    const first = metaFrom((await s.fs.read(join(dir, 'meta.json'))) ?? '{}')
    if (typeof first === 'string' || agreed(first) !== agreed(meta))
      return { kind: 'refused', why: `its metadata does not agree with the first part of its group (${group})` }
    meta = first
  }
  const name = join(dir, `${String(p.part.index).padStart(6, '0')}.part`)
  if (!(await s.fs.publishExclusive(name, p.part.data)) && (await s.fs.read(name)) !== p.part.data)
    return { kind: 'refused', why: `a different part ${p.part.index} of group ${group} is already stored` }
  const have = (await s.fs.list(dir)).filter((n) => n.endsWith('.part')).length
  if (have < p.part.count) return { kind: 'waiting', group, have, count: p.part.count }
  return { kind: 'complete', group, have, count: p.part.count, entries: [await reassemble(s, dir, group, meta)] }
}

async function readParts(s: DeadLetterStore, dir: string): Promise<Array<{ index: number; data: string }>> {
  const out: Array<{ index: number; data: string }> = []
  for (const n of (await s.fs.list(dir)).sort()) {
    const m = /^(\d{6})\.part$/.exec(n)
    if (m) out.push({ index: Number(m[1]), data: (await s.fs.read(join(dir, n))) ?? '' })
  }
  return out
}

async function reassemble(s: DeadLetterStore, dir: string, group: string, meta: Meta): Promise<NewEntry> {
  const parts = await readParts(s, dir)
  const text = Buffer.from(parts.map((x) => x.data).join(''), 'base64')
  const sha = createHash('sha256').update(text).digest('hex')
  const got = `its ${meta.count} parts do not fit together: ${text.length} bytes with SHA-256 ${sha}`
  if (sha !== meta.sha256 || text.length !== meta.bytes)
    return incomplete(s, group, meta, parts, `${got}, expected ${meta.bytes} bytes with ${meta.sha256}`)
  const json = text.toString('utf8')
  let message: Record<string, unknown>
  try {
    message = { ...meta.message, event: JSON.parse(json) }
  } catch {
    message = { ...meta.message, event: json, eventText: true } // not JSON: kept as the text it is
  }
  return entryOf(s, meta, message)
}

/** The group's message as one poison record's entry. */
const entryOf = (s: DeadLetterStore, { requestId, failedAt }: Meta, message: Record<string, unknown>) =>
  poisonEntries({ requestId, failedAt, messages: [message] }, s.now())[0]!

function incomplete(s: DeadLetterStore, group: string, meta: Meta, parts: Array<{ index: number; data: string }>, why: string): NewEntry {
  const { count, bytes, sha256 } = meta
  return {
    ...entryOf(s, meta, { ...meta.message, event: null }),
    key: entryKey('incomplete', group),
    reason: `${meta.message.reason}; stored incomplete: ${why}`,
    incomplete: true,
    event: { count, bytes, sha256, parts },
  }
}

/** Removes a group once what it became is durable, remembering it under parts-done/ first (removed by retention). */
export async function clearGroup(s: DeadLetterStore, group: string): Promise<void> {
  await s.fs.ensureDir(join(s.dir, 'parts-done'))
  await s.fs.publishExclusive(doneFile(s, group), JSON.stringify({ doneAt: new Date(s.now()).toISOString() }))
  await s.fs.removeTree(join(s.dir, 'parts', group))
}

/**
 * A group without meta.json (published whole before any part) holds no part, but its first may be being stored
 * (storePart makes the directory, then publishes): so only one untouched for EMPTY_GROUP_GRACE_MS (its mtime,
 * on the store's clock) is removed, its leftover .tmp files and then the directory, never recursively. A part
 * landing in between fails the rmdir (kept) or finds no directory and fails its invocation (retried): none lost.
 */
async function removeEmptyGroup(s: DeadLetterStore, dir: string): Promise<void> {
  const changed = await s.fs.mtimeMs(dir)
  if (changed === undefined || s.now() - changed < EMPTY_GROUP_GRACE_MS) return
  for (const name of await s.fs.list(dir)) if (name.endsWith('.tmp')) await s.fs.remove(join(dir, name))
  await s.fs.removeEmptyDir(dir)
}

type Swept = { entries: NewEntry[]; groups: string[]; waiting: number; unreadable: Array<{ group: string; problem: string }> }

/** Groups older than the TTL, as one incomplete entry each: the caller stores them, then clears the groups. */
export async function sweepParts(s: DeadLetterStore, ttlMs = PART_TTL_MS): Promise<Swept> {
  const root = join(s.dir, 'parts')
  const out: Swept = { entries: [], groups: [], waiting: 0, unreadable: [] }
  for (const group of await s.fs.list(root)) {
    const dir = join(root, group)
    // One that is done but not removed yet (a crash in between) is stored already.
    if (await s.fs.exists(doneFile(s, group))) {
      await s.fs.removeTree(dir)
      continue
    }
    const text = await s.fs.read(join(dir, 'meta.json'))
    if (text === undefined) {
      await removeEmptyGroup(s, dir)
      continue
    }
    const meta = metaFrom(text)
    if (typeof meta === 'string') {
      // That group's problem (the timer logs it), not the sweep's: the other groups are still swept.
      out.unreadable.push({ group, problem: meta })
      continue
    }
    if (s.now() - timeOf(meta.createdAt) <= ttlMs) {
      out.waiting++
      continue
    }
    const parts = await readParts(s, dir)
    out.entries.push(incomplete(s, group, meta, parts, `only ${parts.length} of ${meta.count} parts arrived within ${ttlMs / 3_600_000} h`))
    out.groups.push(group)
  }
  return out
}
