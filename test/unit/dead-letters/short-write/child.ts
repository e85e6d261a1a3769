// Child of store.test.ts (the short-write test): one put() into the store in argv[2], run under a file-size limit (ulimit -f)
// so the append's write(2) returns short, as a full disk or NAS quota makes it. Prints what put() said.
import { poisonEntries } from '../../../../shared/dead-letters/store/entries.js'
import { DeadLetterStore } from '../../../../shared/dead-letters/store/store.js'
import { bigRecord } from './record.js'

const store = new DeadLetterStore(process.argv[2]!, { deadline: Date.now() + 20_000 })
try {
  const r = await store.put(poisonEntries(bigRecord, Date.parse(bigRecord.failedAt)))
  process.stdout.write(JSON.stringify({ outcomes: r.outcomes }))
} catch (err) {
  process.stdout.write(JSON.stringify({ threw: (err as Error).message.slice(0, 200) }))
}
