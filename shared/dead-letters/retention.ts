// DEAD_LETTER_RETENTION_DAYS: whole day files whose day is past retention are removed, with their index.
// A file holds only what its writer stored on its day, so a file past retention holds nothing younger:
// nothing unexpired is ever removed. The index goes first: a crash in between leaves a file that the next
// run removes, never an index entry without its line (which would make a new arrival look like a duplicate).
// The record of part groups already stored (parts-done/) goes by the same retention.
import { join } from 'node:path'
import { type Deadline, listDir, modifiedAt, readSmall, removeFile, removeTree } from './bounded-fs.js'
import { dayOf, isStoreKey, keyDir, PARTS_DONE_DIR } from './layout.js'
import { timeOf } from './markers.js'
import { jsonValues, listStoreFiles } from './store.js'

export interface RetentionResult {
  /** Entries (lines) in the removed entry files. */
  removedEntries: number
  removedFiles: string[]
  /** Part groups whose record of being stored (parts-done/) was removed. */
  removedPartGroups: number
  /** The oldest day kept. */
  keptFrom: string
}

export async function applyRetention(dir: string, retentionDays: number, now: Date, deadline: Deadline): Promise<RetentionResult> {
  const keptFrom = dayOf(now.getTime() - retentionDays * 24 * 60 * 60 * 1000)
  const removedFiles: string[] = []
  let removedEntries = 0
  for (const kind of ['dead-letters', 'markers'] as const) {
    for (const file of await listStoreFiles(dir, kind, { deadline })) {
      if (file.day >= keptFrom) continue
      if (kind === 'dead-letters') {
        for await (const { value } of jsonValues(file, { deadline })) {
          const key = (value as { key?: unknown } | null)?.key
          removedEntries++
          if (isStoreKey(key)) await removeTree(keyDir(dir, key), deadline)
        }
      }
      await removeFile(join(dir, file.name), deadline)
      removedFiles.push(file.name)
    }
  }
  return { removedEntries, removedFiles, removedPartGroups: await removeDoneGroups(dir, keptFrom, deadline), keptFrom }
}

async function removeDoneGroups(dir: string, keptFrom: string, deadline: Deadline): Promise<number> {
  const root = join(dir, PARTS_DONE_DIR)
  let removed = 0
  for (const group of await listDir(root, deadline)) {
    const path = join(root, group)
    let at = Number.NEGATIVE_INFINITY
    try {
      at = timeOf((JSON.parse((await readSmall(path, deadline)) ?? '{}') as { doneAt?: unknown }).doneAt)
    } catch {
      // Torn: its file's time tells.
    }
    if (!Number.isFinite(at)) at = (await modifiedAt(path, deadline)) ?? Number.NEGATIVE_INFINITY
    if (Number.isFinite(at) && dayOf(at) >= keptFrom) continue
    await removeFile(path, deadline)
    removed++
  }
  return removed
}
