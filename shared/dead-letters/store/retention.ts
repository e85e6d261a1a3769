// DEAD_LETTER_RETENTION_DAYS: day files past retention go, their index first (I7 in store.ts); a file holds
// only its day's entries, so nothing younger is removed. parts-done/ goes by the same retention.
import { join } from 'node:path'
import { timeOf } from './markers.js'
import { type DeadLetterStore, dayOf } from './store.js'

export interface RetentionResult {
  /** Entries (lines) in the removed entry files. */
  removedEntries: number
  removedFiles: string[]
  /** Part groups whose record of being stored (parts-done/) was removed. */
  removedPartGroups: number
  /** The oldest day kept. */
  keptFrom: string
}

export async function applyRetention(store: DeadLetterStore, retentionDays: number): Promise<RetentionResult> {
  const keptFrom = dayOf(store.now() - retentionDays * 24 * 60 * 60 * 1000)
  const result: RetentionResult = { removedEntries: 0, removedFiles: [], removedPartGroups: 0, keptFrom }
  for (const kind of ['dead-letters', 'markers'] as const)
    for (const file of await store.files(kind)) {
      if (file.day >= keptFrom) continue
      if (kind === 'dead-letters')
        for await (const { value } of store.values(file)) {
          const key = (value as { key?: unknown } | null)?.key
          result.removedEntries++
          if (typeof key !== 'string' || !/^[0-9a-f]{32}$/.test(key)) continue
          // A key whose line was carried (I8) to a file kept keeps its index, with that line.
          const carried = (await store.fs.list(store.keyDir(key))).some((n) => n.startsWith('carried-') && n.slice(8) >= keptFrom)
          if (!carried) await store.fs.removeTree(store.keyDir(key))
        }
      await store.fs.remove(file.path)
      result.removedFiles.push(file.name)
    }
  const done = join(store.dir, 'parts-done')
  for (const group of await store.fs.list(done)) {
    const path = join(done, group)
    // Published whole by clearGroup (parts.ts), stamped by the store's clock.
    const at = timeOf((JSON.parse((await store.fs.read(path)) ?? '{}') as { doneAt?: unknown }).doneAt)
    if (Number.isFinite(at) && dayOf(at) >= keptFrom) continue
    await store.fs.remove(path)
    result.removedPartGroups++
  }
  return result
}
