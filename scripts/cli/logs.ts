// npm run logs: a report from the bridge's log lines (docs/operations.md, "How is it doing?"), read one at a
// time in bounded memory whatever the input; --follow keeps a rolling window of a stream.
import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { messageOf } from '../../shared/errors.js'
import { type OptionValues, parseCommand, runAsMain } from './command.js'
import { LogReport } from './logs/aggregate.js'
import { boundedLines, MAX_LINE, parseLine } from './logs/parse-line.js'
import { DEFAULT_RENDER, minuteLabel, reportJson, reportText, safeJson, zoneName } from './logs/render.js'

export const USAGE = `usage: npm run logs -- [<file>…] [--json] [--follow] [--interval S] [--window M] [--utc] [--top N] [--minutes N]

A report from the bridge's log lines: read from the files, or from standard input when none is given.
Lines as \`s logs\` prints them and as \`npm start\` prints them are understood; every other line is ignored.

  npx s bridge logs -t s.yaml -s 2026-01-31T08:00:00+08:00 -e 2026-01-31T09:00:00+08:00 > bridge.log
  npm run logs -- bridge.log
  npx s bridge logs -t s.yaml --tail | npm run logs -- --follow

  --json         the report as JSON (with --follow: one JSON object per update)
  --follow       read standard input as it grows; print a rolling report every --interval seconds
  --interval S   seconds between --follow updates (default 5)
  --window M     minutes --follow keeps (default 60)
  --utc          times in UTC (default: this machine's time zone, which is the one \`s logs\` prints in);
                 the zone is stated beside the times
  --top N        reasons listed per kind (default 10)
  --minutes N    minutes listed in the per-minute table (default 30; --json has them all)
  -h, --help     this text

exit status: 0 with a report; 1 when no bridge line was found (a wrong file, or the wrong function's logs); 2 on a usage error`

const OPTIONS = {
  json: { type: 'boolean', default: false },
  follow: { type: 'boolean', default: false },
  interval: { type: 'string', default: '5' },
  window: { type: 'string', default: '60' },
  utc: { type: 'boolean', default: false },
  top: { type: 'string', default: String(DEFAULT_RENDER.top) },
  minutes: { type: 'string', default: String(DEFAULT_RENDER.minutes) },
} as const

function readOptions(values: OptionValues<typeof OPTIONS>, files: string[]) {
  const positive = (flag: string, text: string, min: number) => {
    const n = Number(text)
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} must be a number of at least ${min}, not ${JSON.stringify(text)}`)
    return n
  }
  if (values.follow && files.length > 0) throw new Error('--follow reads standard input; give no files with it')
  return {
    files,
    json: values.json,
    follow: values.follow,
    intervalMs: positive('interval', values.interval, 0.1) * 1000,
    windowMinutes: positive('window', values.window, 1),
    render: {
      ...DEFAULT_RENDER,
      utc: values.utc,
      top: Math.floor(positive('top', values.top, 1)),
      minutes: Math.floor(positive('minutes', values.minutes, 1)),
    },
  }
}

/** Feeds every line of `input` to the report, a line over MAX_LINE bytes skipped and counted. */
async function readInto(report: LogReport, input: AsyncIterable<Buffer | string>): Promise<void> {
  for await (const line of boundedLines(input, MAX_LINE)) {
    // Skipped lines count as lines read too, where they were.
    if (line === undefined) report.oversized++
    report.add(line === undefined ? undefined : parseLine(line))
  }
}

type LogsOptions = ReturnType<typeof readOptions>

function render(report: LogReport, o: LogsOptions): string {
  return o.json
    ? safeJson(JSON.stringify(reportJson(report, o.render), null, o.follow ? undefined : 2))
    : reportText(report, o.render).join('\n')
}

async function follow(o: LogsOptions, input: Readable, write: (text: string) => void, clear: boolean): Promise<void> {
  const report = new LogReport()
  // Printed again only once a bridge line came in since (or at the end of the input).
  let shown = 0
  const update = (force = false) => {
    report.flushOrphans()
    report.dropBefore(Date.now() - o.windowMinutes * 60_000)
    if (report.bridgeLines === shown && !force) return
    shown = report.bridgeLines
    if (o.json) return write(`${render(report, o)}\n`)
    const now = `${minuteLabel(Math.floor(Date.now() / 60_000) * 60_000, o.render.utc)} (${zoneName(o.render.utc)})`
    const head = `== ${now}: the last ${o.windowMinutes} minutes (updated every ${o.intervalMs / 1000} s; Ctrl-C stops)`
    write(`${clear ? '\u001b[2J\u001b[H' : '\n'}${head}\n${render(report, o)}\n`)
  }
  const timer = setInterval(() => update(), o.intervalMs)
  try {
    await readInto(report, input)
  } finally {
    clearInterval(timer)
  }
  report.flushOrphans(Date.now(), Number.POSITIVE_INFINITY, true)
  update(true)
}

export async function main(
  argv: string[],
  io: { stdin: Readable; write: (text: string) => void; error: (text: string) => void; tty: boolean; env?: NodeJS.ProcessEnv } = {
    stdin: process.stdin,
    write: (t) => process.stdout.write(t),
    error: (t) => process.stderr.write(t),
    tty: Boolean(process.stdout.isTTY),
  },
): Promise<number> {
  const print = { out: (l: string) => io.write(`${l}\n`), err: (l: string) => io.error(`${l}\n`) }
  const o = parseCommand(argv, { options: OPTIONS, allowPositionals: true }, USAGE, print, (p) => readOptions(p.values, p.positionals))
  if (typeof o === 'number') return o
  if (o.files.length === 0 && (io.stdin as { isTTY?: boolean }).isTTY) {
    io.error(`no input: give log files, or pipe them in (npx s bridge logs -t s.yaml | npm run logs)\n${USAGE}\n`)
    return 2
  }
  if (o.follow) {
    // Output that is not a terminal, or NO_COLOR (no-color.org): no escape sequence at all.
    await follow(o, io.stdin, io.write, io.tty && !o.json && !(io.env ?? process.env)['NO_COLOR'])
    return 0
  }
  const report = new LogReport()
  for (const file of o.files.length > 0 ? o.files : ['-']) {
    try {
      await readInto(report, file === '-' ? io.stdin : createReadStream(file))
    } catch (err) {
      io.error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}\n`)
      return 2
    }
  }
  report.flushOrphans(Date.now(), Number.POSITIVE_INFINITY, true)
  io.write(`${render(report, o)}\n`)
  if (report.bridgeLines === 0) {
    io.error(
      `no bridge log lines among ${report.linesRead} lines: expected lines such as \`<time> <requestId> [info] {"event":"bridge.invocation",…}\` (the bridge's logs: npx s bridge logs -t s.yaml)\n`,
    )
    return 1
  }
  return 0
}

runAsMain(import.meta.url, main, { failed: 'npm run logs failed: ' })
