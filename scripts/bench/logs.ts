// `npm run logs` over a day (docs/performance.md, "npm run logs over a day"): text, --json and --follow, each in a
// process of its own, against `wc -l` of the same file. Alone: tsx scripts/bench/logs.ts [--lines N] [--json].
import { execFileSync } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isMain } from '../cli/command.js'
import { nodeJson } from './coldstart.js'
import { logDay } from './log-day.js'
import { table } from './report.js'
import { target } from './targets.js'

const LOGS = new URL('../cli/logs.ts', import.meta.url).href

export type LogsFigures = Awaited<ReturnType<typeof runLogsBench>>

/** npm run logs in its own process, its RSS sampled every 250 ms (MB); the report is kept in memory, not printed. */
const CHILD = (args: string[]) => `const { main } = await import(${JSON.stringify(LOGS)})
const rss = []
const timer = setInterval(() => rss.push(Math.round(process.memoryUsage().rss / 1048576)), 250)
let out = '' // the last update only: --follow writes one a second
let settled // RSS samples taken before the first update: startup, not the window
const code = await main(${JSON.stringify(args)}, { stdin: process.stdin, write: (t) => { out = t; settled ??= rss.length }, error: (t) => process.stderr.write(t), tty: false })
clearInterval(timer)
const invocations = ${JSON.stringify(args.includes('--json'))} ? JSON.parse(out).totals.invocations : undefined
console.log(JSON.stringify({ code, rss, settled, peak: Math.round(process.resourceUsage().maxRSS / 1024), invocations }))`

async function runLogs(mode: 'text' | 'json' | 'follow', file: string) {
  const args = mode === 'text' ? [file] : mode === 'json' ? ['--json', file] : ['--follow', '--json', '--interval', '1']
  const { json: r, ms } = await nodeJson<{ code: number; rss: number[]; settled?: number; peak: number; invocations?: number }>(
    ['--import', 'tsx', '--input-type=module', '-e', CHILD(args)],
    mode === 'follow' ? { stdin: createReadStream(file) } : {},
  )
  if (r.code !== 0) throw new Error(`npm run logs (${mode}) failed: exit ${r.code}`)
  const invocations = r.invocations !== undefined && { invocations: r.invocations }
  return { mode, seconds: Math.round(ms / 10) / 100, peakRssMb: r.peak, rssMb: r.rss, settledAt: r.settled ?? 0, ...invocations }
}

export async function runLogsBench(invocations: number, work: string, log: (line: string) => void) {
  const file = join(work, 'day.log')
  log(`bench: npm run logs over a day of ${invocations.toLocaleString('en-US')} invocations…`)
  let lines = 0
  // Ending now: --follow keeps its default window of the last 60 minutes, as it would reading `s logs --tail`.
  const day = Readable.from(logDay(invocations, new Date())).map((line) => {
    lines++
    return `${line}\n`
  })
  await pipeline(day, createWriteStream(file))
  const wcStart = process.hrtime.bigint()
  execFileSync('wc', ['-l', file])
  const wcSeconds = Math.round(Number(process.hrtime.bigint() - wcStart) / 1e7) / 100
  const runs: Array<Awaited<ReturnType<typeof runLogs>>> = []
  for (const mode of ['text', 'json', 'follow'] as const) runs.push(await runLogs(mode, file))
  const at = `${lines.toLocaleString('en-US')} lines, ${invocations.toLocaleString('en-US')} invocations over 24 h`
  const targets = runs.flatMap((r) => {
    const what = r.mode === 'follow' ? '--follow' : r.mode === 'json' ? '--json' : 'text'
    const t = [target(`npm run logs (${what}): the day in < 60 s`, at, [r.seconds, wcSeconds, 's'], 'measured', '<', 60)]
    if (r.mode !== 'follow')
      return [...t, target(`npm run logs (${what}): peak RSS ≤ 300 MB`, at, [r.peakRssMb, null, 'MB'], 'measured', '<=', 300)]
    // Flat: from a quarter of the way in (and not before the first update: startup is not the window) to the
    // end, the window's minutes come and go and memory stays.
    const from = Math.min(Math.max(Math.floor(r.rssMb.length / 4), r.settledAt), r.rssMb.length - 1)
    const figures: [number, number, string] = [r.rssMb.at(-1) ?? 0, r.rssMb[from] ?? 0, 'MB']
    return [...t, target('npm run logs --follow: RSS growth ≤ 20 MB', `${at}, the last 60 minutes kept`, figures, 'growth', '<=', 20)]
  })
  const fileMb = Math.round(statSync(file).size / 1048576)
  const rows = runs.map((r) => [
    r.mode,
    `${r.seconds} s`,
    `${(r.seconds / wcSeconds).toFixed(1)}×`,
    `${r.peakRssMb} MB`,
    r.invocations ?? '—',
  ])
  const title = `npm run logs over a day (${at}, ${fileMb} MB; wc -l: ${wcSeconds} s):`
  const text = `${title}\n\n${table('mode|time|vs wc -l|peak RSS|invocations counted', rows)}`
  return { lines, invocations, fileMb, wcSeconds, runs, targets, text }
}

if (isMain(import.meta.url)) {
  const n = process.argv.includes('--lines') ? Number(process.argv[process.argv.indexOf('--lines') + 1]) : 1_000_000
  const work = mkdtempSync(join(tmpdir(), 'bench-logs-'))
  try {
    const f = await runLogsBench(n, work, (l) => process.stderr.write(`${l}\n`))
    console.log(process.argv.includes('--json') ? JSON.stringify(f, null, 2) : f.text)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
