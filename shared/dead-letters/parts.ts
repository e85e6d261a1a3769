// Parts of a poison message too big for one asynchronous invoke (see packPoison). Each part is written
// to its own file (temporary name, fsync, rename: never half there) under <dir>/parts/<group>/. When all
// parts are present, the message is reassembled, checked against its SHA-256, stored as one entry, and
// only then are the part files removed. Parts may arrive in any order, on different instances, and
// again after a retry: every step is idempotent.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { entryKey } from './keys.js'
import type { PoisonPartRecord, PoisonRecord } from './record.js'

export function partGroup(p: PoisonPartRecord): string {
  return entryKey('part', p.requestId, String(p.message.index), p.part.sha256)
}

async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, 'w')
  try {
    await handle.write(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, join(dir, name))
}

/**
 * Stores one part. Returns the reassembled poison record (one message) once every part is there,
 * else undefined. Throws if the part cannot be stored or the whole does not match its checksum.
 */
export async function storePart(storeDir: string, p: PoisonPartRecord): Promise<{ group: string; record?: PoisonRecord; have: number }> {
  const group = partGroup(p)
  const dir = join(storeDir, 'parts', group)
  await mkdir(dir, { recursive: true })
  await writeAtomically(dir, `${String(p.part.index).padStart(6, '0')}-of-${p.part.count}.json`, JSON.stringify(p))
  const names = (await readdir(dir)).filter((n) => n.endsWith(`-of-${p.part.count}.json`)).sort()
  if (names.length < p.part.count) return { group, have: names.length }
  const parts: PoisonPartRecord[] = []
  for (const n of names) parts.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as PoisonPartRecord)
  const text = Buffer.from(parts.map((x) => x.part.data).join(''), 'base64')
  const sha = createHash('sha256').update(text).digest('hex')
  if (sha !== p.part.sha256 || text.length !== p.part.bytes) {
    throw new Error(
      `dead-letter parts ${group} do not reassemble: ${text.length} bytes with SHA-256 ${sha}, expected ${p.part.bytes} bytes with ${p.part.sha256}`,
    )
  }
  const event = JSON.parse(text.toString('utf8')) as unknown
  return {
    group,
    have: names.length,
    record: { kind: 'rocketmq-mqtt-bridge.poison', requestId: p.requestId, failedAt: p.failedAt, messages: [{ ...p.message, event }] },
  }
}

/** Removes a reassembled group, after its entry is durable. */
export async function clearParts(storeDir: string, group: string): Promise<void> {
  await rm(join(storeDir, 'parts', group), { recursive: true, force: true })
}
