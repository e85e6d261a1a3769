// A dead-letter writer in its own process, as one Function Compute instance is: it appends poison records
// through the store (shared/dead-letters/store/store.ts) and prints what it did and the memory it took.
//   node --import tsx test/helpers/dead-letter-writer.ts <dir> '<spec JSON>'
// With `barrier` in the spec it prints "ready" and waits for a line on stdin before it writes, so that
// writers started one after another append at the same time.
import { createInterface } from 'node:readline'
import { poisonEntries } from '../../shared/dead-letters/store/entries.js'
import { DeadLetterStore } from '../../shared/dead-letters/store/store.js'

interface Spec {
  requestId: string
  ids: string[]
  /** Messages per append call. */
  batch: number
  body?: string
  barrier?: true
}

const [dir, specText] = process.argv.slice(2)
const spec = JSON.parse(specText!) as Spec
const totals = { stored: 0, failedAgain: 0, duplicates: 0, ms: 0 }
if (spec.barrier) {
  const lines = createInterface({ input: process.stdin })
  const go = new Promise((resolve) => lines.once('line', resolve))
  console.log('ready')
  await go
  lines.close()
}
const store = new DeadLetterStore(dir!)
const started = process.hrtime.bigint()
for (let i = 0; i < spec.ids.length; i += spec.batch) {
  const ids = spec.ids.slice(i, i + spec.batch)
  const now = store.now()
  const messages = ids.map((id, k) => ({
    index: i + k,
    reason: `bad ${id}`,
    ruleId: 'rule-1',
    messageId: id,
    event: { data: { topic: 't', body: spec.body ?? `body of ${id}`, systemProperties: { UNIQ_KEY: id } } },
  }))
  const r = await store.put(poisonEntries({ requestId: spec.requestId, failedAt: new Date(now).toISOString(), messages }, now))
  totals.stored += r.stored
  totals.failedAgain += r.failedAgain
  totals.duplicates += r.duplicates
}
totals.ms = Number(process.hrtime.bigint() - started) / 1e6
console.log(JSON.stringify({ ...totals, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }))
