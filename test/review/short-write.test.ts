// Review finding: a short write(2) (a full disk, a NAS quota) leaves put() reporting "stored" with a torn line
// and its index made, so the message is never readable and every later report of it is a duplicate.
// fs.ts appendLines() (and publishExclusive()) ignore FileHandle.write()'s bytesWritten.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { poisonEntries } from '../../shared/dead-letters/store/entries.js'
import { DeadLetterStore, type UnreadableLine } from '../../shared/dead-letters/store/store.js'
import { bigRecord } from './short-write-record.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-short-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('a put that hit a short write either throws or leaves the message readable; a retry then stores it', async () => {
  const child = new URL('./short-write-child.ts', import.meta.url).pathname
  // 64 KiB file-size limit: the 200 KB line's write returns short (no signal: something was written).
  const said = JSON.parse(
    execFileSync('bash', ['-c', 'ulimit -f 64; exec node --import tsx "$0" "$1"', child, dir], {
      encoding: 'utf8',
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    }),
  ) as { outcomes?: string[]; threw?: string }
  // Function Compute retries the invocation when put() throws; here the disk has room again.
  const store = new DeadLetterStore(dir, { deadline: Date.now() + 20_000 })
  const retried = said.threw !== undefined
  if (retried) await store.put(poisonEntries(bigRecord, Date.parse(bigRecord.failedAt)))
  else {
    assert.deepEqual(said.outcomes, ['stored'])
    // What Function Compute does anyway (at least once): the same record again.
    const again = await store.put(poisonEntries(bigRecord, Date.parse(bigRecord.failedAt)))
    assert.deepEqual(again.outcomes, ['duplicate'])
  }
  const unreadable: UnreadableLine[] = []
  const all = await store.readAll({ onUnreadable: (u) => void unreadable.push(u) })
  assert.equal(
    all.filter((e) => e.messageId === 'M1').length,
    1,
    `put() said ${JSON.stringify(said)}, yet the message is not in the store; unreadable: ${JSON.stringify(unreadable)}`,
  )
})
