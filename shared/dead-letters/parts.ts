// Parts of a poison message too big for one asynchronous invoke (pack.ts), put back together under
// <dir>/parts/<group>/. A part cannot poison its message: it must be in range and in proportion to the
// message's size, and its metadata must agree with the group's first part (meta.json); a part that does
// not is refused (stored as an entry of its own, so nothing is dropped). Each part is published whole
// and at most once (publishExclusive). When all are in, the checksum decides: the message is stored as one
// entry, or, if it does not match, as one entry marked incomplete holding the parts' data. A group still
// incomplete after PART_TTL_MS is stored the same way by the redrive timer (sweepParts): never dropped,
// never left behind unseen. A group takes at most twice the declared size on disk, for at most the TTL.
// A group that is done (stored, whole or incomplete) is remembered under parts-done/ before its parts go,
// so a part delivered again after that is a duplicate, not the start of a new group.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { type Deadline, ensureDir, exists, listDir, modifiedAt, publishExclusive, readSmall, removeTree } from './bounded-fs.js'
import { poisonEntries } from './entries.js'
import { entryKey } from './keys.js'
import { PARTS_DIR, PARTS_DONE_DIR } from './layout.js'
import type { PoisonPartRecord, StoredDeadLetter } from './record.js'

/** The largest message a part group can carry: Function Compute's synchronous request limit (docs/platform-facts.md §4). */
export const MAX_PARTED_BYTES = 32 * 1024 * 1024
/** pack.ts never cuts parts smaller than this. */
const MIN_PART_DATA = 1024
/** How long a group may wait for its last part before it is stored incomplete. */
export const PART_TTL_MS = 6 * 60 * 60 * 1000
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

export function partGroup(p: PoisonPartRecord): string {
  return entryKey('part', p.requestId, String(p.message.index), p.part.sha256)
}

/** What every part of a group must agree on: the first part's, in a fixed order. */
function metaOf(p: PoisonPartRecord, createdAt: string): string {
  const { index, reason, ruleId, messageId, wholeEvent, eventText, lossy } = p.message
  const { count, bytes, sha256 } = p.part
  return JSON.stringify({
    requestId: p.requestId,
    failedAt: p.failedAt,
    message: { index, reason, ruleId, messageId, wholeEvent, eventText, lossy },
    count,
    bytes,
    sha256,
    createdAt,
  })
}

const withoutCreated = (meta: string) => meta.replace(/,"createdAt":"[^"]*"\}$/, '}')

/** Why a part cannot belong to any message, or undefined. */
export function partProblem(p: PoisonPartRecord): string | undefined {
  const { index, count, bytes, data } = p.part
  if (bytes > MAX_PARTED_BYTES) return `it declares ${bytes} bytes, more than the ${MAX_PARTED_BYTES} a message can have`
  const encoded = 4 * Math.ceil(bytes / 3)
  const most = Math.max(1, Math.ceil(encoded / MIN_PART_DATA))
  if (count > most) return `it declares ${count} parts, more than the ${most} that ${bytes} bytes can take`
  if (index >= count) return `its index ${index} is not below its count ${count}`
  if (!BASE64.test(data)) return 'its data is not base64'
  if (encoded > 0 && data.length === 0) return 'it carries no data'
  const last = index === count - 1
  // pack.ts cuts equal slices and a shorter last one: any other size cannot be part of the whole.
  if (!last && !((count - 1) * data.length < encoded && encoded <= count * data.length))
    return `its ${data.length} characters of data cannot be one of ${count} equal slices of ${encoded}`
  if (last && data.length > encoded - (count - 1)) return `its ${data.length} characters of data do not fit in ${encoded}`
  if (p.message.reason.length > 2100 || (p.message.ruleId?.length ?? 0) > 200 || (p.message.messageId?.length ?? 0) > 200)
    return 'its reason, rule ID or message ID is longer than a bridge ever sends'
  return undefined
}

export type PartOutcome =
  | { kind: 'refused'; why: string }
  | { kind: 'waiting'; group: string; have: number; count: number }
  | { kind: 'complete'; group: string; have: number; count: number; entries: StoredDeadLetter[] }
  /** Its group is done already: a part delivered again (Function Compute delivers at least once). */
  | { kind: 'duplicate'; group: string; count: number }

const doneFile = (storeDir: string, group: string) => join(storeDir, PARTS_DONE_DIR, group)

/** Stores one part; when it completes its group, returns the entries to store (then clearGroup). */
export async function storePart(storeDir: string, p: PoisonPartRecord, now: Date, deadline: Deadline): Promise<PartOutcome> {
  const problem = partProblem(p)
  if (problem !== undefined) return { kind: 'refused', why: problem }
  const group = partGroup(p)
  if (await exists(doneFile(storeDir, group), deadline)) return { kind: 'duplicate', group, count: p.part.count }
  const dir = join(storeDir, PARTS_DIR, group)
  await ensureDir(dir, deadline)
  const meta = metaOf(p, now.toISOString())
  if (!(await publishExclusive(join(dir, 'meta.json'), meta, deadline))) {
    const first = (await readSmall(join(dir, 'meta.json'), deadline)) ?? ''
    if (withoutCreated(first) !== withoutCreated(meta))
      return { kind: 'refused', why: `its metadata does not agree with the first part of its group (${group})` }
  }
  const name = join(dir, `${String(p.part.index).padStart(6, '0')}.part`)
  if (!(await publishExclusive(name, p.part.data, deadline)) && (await readSmall(name, deadline)) !== p.part.data)
    return { kind: 'refused', why: `a different part ${p.part.index} of group ${group} is already stored` }
  const have = (await listDir(dir, deadline)).filter((n) => n.endsWith('.part')).length
  if (have < p.part.count) return { kind: 'waiting', group, have, count: p.part.count }
  return { kind: 'complete', group, have, count: p.part.count, entries: await reassemble(dir, group, p, now, deadline) }
}

async function readParts(dir: string, deadline: Deadline): Promise<Array<{ index: number; data: string }>> {
  const out: Array<{ index: number; data: string }> = []
  for (const n of (await listDir(dir, deadline)).sort()) {
    const m = /^(\d{6})\.part$/.exec(n)
    if (m) out.push({ index: Number(m[1]), data: (await readSmall(join(dir, n), deadline)) ?? '' })
    // Parts stored by the version before meta.json: whole part records.
    const old = /^(\d{6})-of-\d+\.json$/.exec(n)
    if (old) {
      try {
        const data = (JSON.parse((await readSmall(join(dir, n), deadline)) ?? '{}') as { part?: { data?: unknown } }).part?.data
        if (typeof data === 'string') out.push({ index: Number(old[1]), data })
      } catch {
        // A torn legacy part: the ones that read are kept.
      }
    }
  }
  return out
}

async function reassemble(dir: string, group: string, p: PoisonPartRecord, now: Date, deadline: Deadline): Promise<StoredDeadLetter[]> {
  const parts = await readParts(dir, deadline)
  const text = Buffer.from(parts.map((x) => x.data).join(''), 'base64')
  const sha = createHash('sha256').update(text).digest('hex')
  if (sha !== p.part.sha256 || text.length !== p.part.bytes) {
    const why = `its ${p.part.count} parts do not fit together: ${text.length} bytes with SHA-256 ${sha}, expected ${p.part.bytes} bytes with ${p.part.sha256}`
    return [incompleteEntry(group, p, parts, why, now)]
  }
  const json = text.toString('utf8')
  let event: unknown = json
  let eventText = true
  try {
    event = JSON.parse(json)
    eventText = false
  } catch {
    // Not JSON: kept as the text it is.
  }
  const message = { ...p.message, event, ...(eventText ? { eventText: true } : {}) }
  return poisonEntries({ requestId: p.requestId, failedAt: p.failedAt, messages: [message] }, now)
}

function incompleteEntry(
  group: string,
  p: Pick<PoisonPartRecord, 'requestId' | 'failedAt' | 'message'> & { part: Pick<PoisonPartRecord['part'], 'count' | 'bytes' | 'sha256'> },
  parts: Array<{ index: number; data: string }>,
  why: string,
  now: Date,
): StoredDeadLetter {
  const [entry] = poisonEntries({ requestId: p.requestId, failedAt: p.failedAt, messages: [{ ...p.message, event: null }] }, now)
  const { count, bytes, sha256 } = p.part
  return {
    ...entry!,
    key: entryKey('incomplete', group),
    reason: `${p.message.reason}; stored incomplete: ${why}`,
    incomplete: true,
    event: { count, bytes, sha256, parts },
  }
}

/**
 * Removes a group once what it became is durable: first it is remembered as done (parts-done/<group>,
 * removed by retention), so a part that arrives again after this is answered as a duplicate.
 */
export async function clearGroup(storeDir: string, group: string, now: Date, deadline: Deadline): Promise<void> {
  await ensureDir(join(storeDir, PARTS_DONE_DIR), deadline)
  await publishExclusive(doneFile(storeDir, group), JSON.stringify({ doneAt: now.toISOString() }), deadline)
  await removeTree(join(storeDir, PARTS_DIR, group), deadline)
}

/** Groups older than the TTL, as one incomplete entry each: the caller stores them, then clears the groups. */
export async function sweepParts(
  storeDir: string,
  now: Date,
  deadline: Deadline,
  ttlMs = PART_TTL_MS,
): Promise<{ entries: StoredDeadLetter[]; groups: string[]; waiting: number }> {
  const root = join(storeDir, PARTS_DIR)
  const entries: StoredDeadLetter[] = []
  const groups: string[] = []
  let waiting = 0
  for (const group of await listDir(root, deadline)) {
    const dir = join(root, group)
    // Done, but not removed yet (a crash in between): what it became is stored already.
    if (await exists(doneFile(storeDir, group), deadline)) {
      await removeTree(dir, deadline)
      continue
    }
    const metaText = await readSmall(join(dir, 'meta.json'), deadline)
    let meta: ReturnType<typeof parseMeta>
    try {
      meta = parseMeta(metaText)
    } catch {
      meta = undefined
    }
    const created = meta?.createdAt !== undefined ? Date.parse(meta.createdAt) : ((await modifiedAt(dir, deadline)) ?? now.getTime())
    if (now.getTime() - created <= ttlMs) {
      waiting++
      continue
    }
    const parts = await readParts(dir, deadline)
    const have = `${parts.length} of ${meta?.count ?? 'an unknown number of'} parts`
    const base = meta ?? {
      requestId: 'unknown',
      failedAt: new Date(created).toISOString(),
      message: { index: 0, reason: 'a poison message sent in parts' },
      count: parts.length,
      bytes: 0,
      sha256: '',
    }
    entries.push(incompleteEntry(group, { ...base, part: base }, parts, `only ${have} arrived within ${ttlMs / 3_600_000} h`, now))
    groups.push(group)
  }
  return { entries, groups, waiting }
}

function parseMeta(text: string | undefined) {
  if (text === undefined) return undefined
  const m = JSON.parse(text) as {
    requestId: string
    failedAt: string
    message: PoisonPartRecord['message']
    count: number
    bytes: number
    sha256: string
    createdAt?: string
  }
  return typeof m.requestId === 'string' && typeof m.message === 'object' && m.message !== null ? m : undefined
}
