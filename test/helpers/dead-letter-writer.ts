// A dead-letter writer in its own process, as one Function Compute instance is: it appends poison records
// through the store (shared/dead-letters/store.ts) and prints what it did and the memory it took.
//   node --import tsx test/helpers/dead-letter-writer.ts <dir> '<spec JSON>'
import { poisonEntries } from '../../shared/dead-letters/entries.js'
import { appendDeadLetters } from '../../shared/dead-letters/store.js'

interface Spec {
  requestId: string
  ids: string[]
  /** Messages per append call. */
  batch: number
  body?: string
  /** Epoch ms to start at, so that writers started one after another append at the same time. */
  startAt?: number
}

const [dir, specText] = process.argv.slice(2)
const spec = JSON.parse(specText!) as Spec
const totals = { stored: 0, failedAgain: 0, duplicates: 0, ms: 0 }
if (spec.startAt !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, spec.startAt! - Date.now())))
const started = process.hrtime.bigint()
for (let i = 0; i < spec.ids.length; i += spec.batch) {
  const ids = spec.ids.slice(i, i + spec.batch)
  const now = new Date()
  const messages = ids.map((id, k) => ({
    index: i + k,
    reason: `bad ${id}`,
    ruleId: 'rule-1',
    messageId: id,
    event: { data: { topic: 't', body: spec.body ?? `body of ${id}`, systemProperties: { UNIQ_KEY: id } } },
  }))
  const r = await appendDeadLetters(dir!, poisonEntries({ requestId: spec.requestId, failedAt: now.toISOString(), messages }, now), { now })
  totals.stored += r.stored
  totals.failedAgain += r.failedAgain
  totals.duplicates += r.duplicates
}
totals.ms = Number(process.hrtime.bigint() - started) / 1e6
console.log(JSON.stringify({ ...totals, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }))
