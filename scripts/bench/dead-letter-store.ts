// One call of 80 dead letters into stores of several sizes, each in a process held to 256 MB of heap, the
// dead-letter function's memory (docs/performance.md, "Dead-letter store").
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { poisonEntries } from '../../shared/dead-letters/store/entries.js'
import { entryKey } from '../../shared/dead-letters/store/keys.js'
import { DeadLetterStore } from '../../shared/dead-letters/store/store.js'
import { isMain } from '../cli/command.js'
import { nodeJson, ROOT } from './coldstart.js'
import { round } from './measure.js'
import { table } from './report.js'

const HERE = fileURLToPath(import.meta.url)
const MB = 1024 * 1024
const PER_CALL = 80
const LINE_BYTES = 16 * 1024

const PLANS = { quick: { sizesMb: [0, 16], calls: 5 }, full: { sizesMb: [0, 100, 1024], calls: 20 } }

/** `bytes` of entry lines (16 KB each) in one day file, and the key index for each of them. */
function fill(dir: string, bytes: number): number {
  if (bytes === 0) return 0
  const body = 'p'.repeat(LINE_BYTES - 400)
  let entries = 0
  const store = new DeadLetterStore(dir)
  const fd = openSync(join(dir, 'dead-letters-2024-01-01-bulk.jsonl'), 'w')
  try {
    for (let written = 0; written < bytes; entries++) {
      const key = entryKey('bench', String(entries))
      const line = `${JSON.stringify({ key, reason: 'qoslevel: must be 0, 1 or 2', source: 'bridge-poison', requestId: 'bulk', firstFailureAt: '2024-01-01T00:00:00.000Z', lastFailureAt: '2024-01-01T00:00:00.000Z', attempts: 1, event: { data: { topic: 't', body } } })}\n`
      written += writeSync(fd, line)
      mkdirSync(store.keyDir(key), { recursive: true })
      mkdirSync(store.reporterDir(key, 'bulk'))
    }
  } finally {
    closeSync(fd)
  }
  return entries
}

async function child(dir: string, calls: number): Promise<void> {
  const times: number[] = []
  const store = new DeadLetterStore(dir)
  for (let c = 0; c < calls; c++) {
    const now = new Date(store.now())
    const messages = Array.from({ length: PER_CALL }, (_, i) => ({
      index: i,
      reason: 'no enabled rule',
      ruleId: 'rule-1',
      messageId: `BENCH-${c}-${i}`,
      event: { data: { topic: 't', body: 'x'.repeat(200), systemProperties: { UNIQ_KEY: `BENCH-${c}-${i}` } } },
    }))
    const entries = poisonEntries({ requestId: `bench-${c}`, failedAt: now.toISOString(), messages }, now.getTime())
    const t = process.hrtime.bigint()
    const r = await store.put(entries)
    times.push(Number(process.hrtime.bigint() - t) / 1e6)
    if (r.stored !== PER_CALL) throw new Error(`stored ${r.stored} of ${PER_CALL}`)
  }
  console.log(JSON.stringify({ times, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }))
}

type StoreFigure = Awaited<ReturnType<typeof runStoreBench>>[number]

/** Milliseconds per call of 80 entries. */
export async function runStoreBench(mode: 'quick' | 'full', log: (line: string) => void) {
  const plan = PLANS[mode]
  const figures = []
  for (const storeMb of plan.sizesMb) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-dl-'))
    try {
      log(`bench: dead-letter store of ${storeMb} MB…`)
      const entries = fill(dir, storeMb * MB)
      const args = ['--max-old-space-size=256', '--import', 'tsx', HERE, '--child', dir, String(plan.calls)]
      const r = (await nodeJson<{ times: number[]; maxRssMb: number }>(args, { cwd: ROOT })).json
      const sorted = [...r.times].sort((a, b) => a - b)
      const [p50, p90, max] = [0.5, 0.9, 1].map((q) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!, 1))
      figures.push({ storeMb, entries, calls: sorted.length, p50: p50!, p90: p90!, max: max!, maxRssMb: r.maxRssMb })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return figures
}

export function renderStoreBench(figures: StoreFigure[]): string {
  const rows = figures.map((f) => [`${f.storeMb} MB`, f.entries.toLocaleString('en'), f.p50, f.p90, f.max, `${f.maxRssMb} MB`])
  const title = `## Dead-letter store: one call of ${PER_CALL} dead letters (ms, ${figures[0]?.calls ?? 0} calls each, heap held to 256 MB)`
  return `${title}\n\n${table('store|entries in it|p50|p90|max|peak RSS', rows)}`
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2)
  if (args[0] === '--child') {
    await child(args[1]!, Number(args[2]))
  } else if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: tsx scripts/bench/dead-letter-store.ts [--quick]   (npm run bench runs this part too)')
  } else {
    const figures = await runStoreBench(args.includes('--quick') ? 'quick' : 'full', (l) => process.stderr.write(`${l}\n`))
    console.log(renderStoreBench(figures))
    console.log(JSON.stringify(figures))
  }
}
