// DEAD_LETTER_RETENTION_DAYS: whole day files whose day is past retention are removed, with their index.
// A file holds only what its writer stored on its day, so a file past retention holds nothing younger:
// nothing unexpired is ever removed. The index goes first: a crash in between leaves a file that the next
// run removes, never an index entry without its line (which would make a new arrival look like a duplicate).
import { join } from 'node:path'
import { type Deadline, removeFile, removeTree } from './bounded-fs.js'
import { dayOf, isStoreKey, keyDir } from './layout.js'
import { jsonValues, listStoreFiles } from './store.js'

export interface RetentionResult {
  /** Entries (lines) in the removed entry files. */
  removedEntries: number
  removedFiles: string[]
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
  return { removedEntries, removedFiles, keptFrom }
}
