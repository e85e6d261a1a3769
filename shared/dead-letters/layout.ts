// Where things are in the store (docs/operations.md, "Where the store is"):
//
//   dead-letters-<day>-<writer>.jsonl   entries, one JSON object per line
//   markers-<day>-<writer>.jsonl        append-only facts about entries (markers.ts)
//   keys/<2 hex>/<key>/                 the index: this key is stored (made after its line is durable)
//   keys/<2 hex>/<key>/<request hash>/  ... and this request reported it
//   parts/<group>/                      parts of a message too big for one hand-off (parts.ts)
//   parts-done/<group>                  ... and the groups already stored, so a part sent again is a duplicate
//   redrive.lease                       held by the run that sends entries to the bridge (lease.ts)
//
// One writer per file: <writer> is a random token made once per process, so two instances (two NFS
// clients) never append to one file, and a reader merges them all. Files from before the writer token
// (dead-letters-<day>.jsonl) are read the same way.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { entryKey } from './keys.js'

/** This process's writer token. */
export const PROCESS_WRITER = randomBytes(6).toString('hex')

export type StoreFileKind = 'dead-letters' | 'markers'

const FILE = /^(dead-letters|markers)-(\d{4}-\d{2}-\d{2})(?:-([0-9a-z]{1,32}))?\.jsonl$/

export interface StoreFile {
  kind: StoreFileKind
  /** UTC day the writer wrote it on, YYYY-MM-DD. */
  day: string
  name: string
  path: string
}

export function dayOf(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 10)
}

export function storeFileName(kind: StoreFileKind, at: Date | number, writer: string): string {
  return `${kind}-${dayOf(at)}-${writer}.jsonl`
}

/** The store's files among `names`, by day, then name: the order readers merge them in. */
export function storeFiles(dir: string, names: string[]): StoreFile[] {
  const out: StoreFile[] = []
  for (const name of names) {
    const m = FILE.exec(name)
    if (m) out.push({ kind: m[1] as StoreFileKind, day: m[2]!, name, path: join(dir, name) })
  }
  return out.sort((a, b) => (a.day === b.day ? a.name.localeCompare(b.name) : a.day.localeCompare(b.day)))
}

/** Keys the store makes (keys.ts); only these ever become paths. */
export function isStoreKey(key: unknown): key is string {
  return typeof key === 'string' && /^[0-9a-f]{32}$/.test(key)
}

export function keyDir(dir: string, key: string): string {
  if (!isStoreKey(key)) throw new Error(`not a dead-letter key: ${JSON.stringify(key).slice(0, 80)}`)
  return join(dir, 'keys', key.slice(0, 2), key)
}

/** The index entry (a directory) that says this request reported this key. */
export function reporterFile(dir: string, key: string, requestId: string | undefined): string {
  return join(keyDir(dir, key), entryKey('reporter', requestId ?? '').slice(0, 16))
}

export const PARTS_DIR = 'parts'
export const PARTS_DONE_DIR = 'parts-done'
export const REDRIVE_LEASE = 'redrive.lease'
