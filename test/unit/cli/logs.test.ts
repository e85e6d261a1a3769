// `npm run logs`: the report from bridge log lines, on fixtures of what `s logs` prints
// (test/fixtures/s-logs-bridge.txt) and of what `npm start` printed (test/fixtures/npm-start-output.txt).

import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LogReport, NO_TIME, quantile, UNATTRIBUTED } from '../../../scripts/cli/logs/aggregate.js'
import { barChart, squeeze } from '../../../scripts/cli/logs/chart.js'
import { MAX_LINE, parseLine } from '../../../scripts/cli/logs/parse-line.js'
import type { reportJson } from '../../../scripts/cli/logs/render.js'
import { main } from '../../../scripts/cli/logs.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const S_LOGS = join(root, 'test/fixtures/s-logs-bridge.txt')
const NPM_START = join(root, 'test/fixtures/npm-start-output.txt')

/** Runs the command in this process; stdin is `input` (empty by default). */
async function run(args: string[], input = ''): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(args, {
    stdin: Readable.from([input]),
    write: (t) => {
      out += t
    },
    error: (t) => {
      err += t
    },
    tty: false,
  })
  return { code, out, err }
}

type Json = ReturnType<typeof reportJson>
const json = async (file: string): Promise<Json> => {
  const r = await run(['--json', file])
  assert.equal(r.code, 0, r.err)
  return JSON.parse(r.out) as Json
}

describe('one line of log output', () => {
  test('as `s logs` prints it: colours, instance ID, its own time and the local time before the request ID', () => {
    const raw =
      '\u001b[36mc-6650a1b2-5f1a\u001b[0m \u001b[2m2026-01-31 8:32:20\u001b[0m \u001b[1;32m2026-01-31 08:32:20\u001b[0m 1-6650a1b4-00ab [\u001b[31merror\u001b[0m] {"event":"bridge.failure","requestId":"1-6650a1b4-00ab","ruleId":"r1","reason":"x"}'
    const line = parseLine(raw)!
    assert.equal(line.requestId, '1-6650a1b4-00ab')
    assert.equal(line.level, 'error')
    assert.equal(line.fields.event, 'bridge.failure')
    // Zone-less: this machine's local time, the zone `s logs` printed it in.
    assert.equal(line.time, new Date(2026, 0, 31, 8, 32, 20).getTime())
  })

  test('as `npm start` prints it, and as the bridge prints it without context.logger; level in any case', () => {
    const started = parseLine(
      '  | 2026-12-01T08:18:42.965Z 1-6b0e-df40 [INFO] {"event":"bridge.invocation","requestId":"1-6b0e-df40","received":1}',
    )!
    assert.deepEqual([started.time, started.level, started.fields['received']], [Date.parse('2026-12-01T08:18:42.965Z'), 'info', 1])
    const bare = parseLine(
      '{"time":"2026-12-01T08:18:42.000Z","level":"warn","requestId":"r-2","event":"bridge.dead-letter","reason":"y"}',
    )!
    assert.deepEqual([bare.time, bare.requestId, bare.level], [Date.parse('2026-12-01T08:18:42.000Z'), 'r-2', 'warn'])
  })

  test('everything else is not a bridge line', () => {
    for (const other of [
      '',
      '[2026-01-31 08:40:02][WARN][s_cli] It is not recommended to run the command as root user.',
      'FC Invoke Start RequestId: 1-6650a1b4-00ab',
      'FunctionCompute nodejs20 runtime inited.',
      '2026-01-31T08:32:20.200Z 1-6650a1b4-00ab [error] DeliveryError: 2 of 10 messages not acknowledged',
      '2026-01-31T08:34:00.123Z 1-x [info] {"event":"validate-rules.request","statusCode":200}',
      '2026-01-31T08:34:00.123Z 1-x [info] {"event":"bridge.invocation"',
      'summary: {"requestId":"1-x","received":5}',
      '{"event":"dead-letter.stored"}',
    ])
      assert.equal(parseLine(other), undefined, other)
  })
})

describe('the report of the `s logs` fixture', () => {
  test('per rule: invocations, received, published, dead-lettered, duplicates, filtered, failed, lag p50/p99/max', async () => {
    const r = await json(S_LOGS)
    assert.deepEqual(r.lines, { read: 68, bridge: 18, ignored: 50 })
    const dc = r.rules['device-commands']!
    assert.deepEqual(
      [dc.invocations, dc.received, dc.published, dc.deadLettered, dc.duplicates, dc.filtered, dc.failed],
      [5, 42, 31, 0, 8, 1, 2],
    )
    assert.deepEqual(dc.lagMs, { p50: 150, p99: 14000, max: 14000, invocations: 5 })
    const hl = r.rules['home-lamps']!
    assert.deepEqual([hl.invocations, hl.received, hl.published, hl.deadLettered], [3, 12, 9, 3])
    assert.deepEqual(hl.lagMs, { p50: 200, p99: 2500, max: 2500, invocations: 3 })
    assert.deepEqual([r.rules['orders-v5']!.received, r.rules['orders-v5']!.lagMs?.max], [2, 300])
    assert.deepEqual(r.totals.outcomes, { ok: 8, retry: 1 })
    assert.deepEqual(
      [r.totals.invocations, r.totals.received, r.totals.published, r.totals.deadLettered, r.totals.duplicates, r.totals.failed],
      [9, 56, 42, 3, 8, 2],
    )
  })

  test('per minute, gaps left out, each minute split by rule', async () => {
    const r = await json(S_LOGS)
    const minute = (h: number, m: number) => new Date(2026, 0, 31, h, m).toISOString()
    assert.deepEqual(
      r.minutes.map((m) => [m.minute, m.totals.invocations, m.totals.published]),
      [
        [minute(8, 31), 2, 14],
        [minute(8, 32), 3, 20],
        [minute(8, 33), 2, 5],
        [minute(8, 35), 2, 3],
      ],
    )
    const busy = r.minutes[1]!
    assert.deepEqual(Object.keys(busy.rules), ['device-commands'])
    assert.deepEqual([busy.totals.failed, busy.totals.duplicates, busy.totals.lagMs?.p99], [2, 8, 14000])
    assert.deepEqual(Object.keys(r.minutes[2]!.rules), ['home-lamps', 'orders-v5'])
  })

  test('the top reasons with counts, and the connection events', async () => {
    const r = await json(S_LOGS)
    assert.deepEqual(r.deadLetterReasons, [
      { reason: 'userProperties.qoslevel: must be 0, 1 or 2, got "3"', count: 2 },
      { reason: 'no enabled rule for RocketMQ instance "MQ_INST_1234567890123456_OTHER" and topic "device-commands"', count: 1 },
    ])
    assert.deepEqual(r.failureReasons, [{ reason: 'the PUBACK did not arrive within 10000 ms (MQTT_PUBLISH_TIMEOUT_MS)', count: 2 }])
    assert.deepEqual(r.connections.events, { 'bridge.pre-stop': 1, 'mqtt.connect-failed': 1, 'mqtt.connected': 2 })
    assert.match(r.connections.connectFailures[0]!.reason, /ETIMEDOUT/)
  })

  test('as text: the tables, both charts and the reasons', async () => {
    const r = await run([S_LOGS])
    assert.equal(r.code, 0)
    const text = r.out
    assert.match(text, /^rule +invocations +received +published +dead-lettered +duplicates +filtered +failed +lag p50 +lag p99 +lag max$/m)
    assert.match(text, /^device-commands +5 +42 +31 +0 +8 +1 +2 +150 ms +14\.0 s +14\.0 s$/m)
    assert.match(text, /^all rules +9 +56 +42 +3 +8 +1 +2 /m)
    assert.match(text, /invocations by outcome: 8 ok, 1 retry/)
    assert.match(text, /^Published per minute$/m)
    assert.match(text, /^Lag p99 per minute$/m)
    assert.match(text, /^14,000 ms ┤ {3}███/m, 'the 08:32 column is the tallest lag bar')
    assert.match(text, /^ {2}2 × userProperties\.qoslevel: must be 0, 1 or 2, got "3"$/m)
  })
})

describe('the report of what `npm start` printed', () => {
  test('its five sample invocations; the batch over two rules split by what its lines name', async () => {
    const r = await json(NPM_START)
    assert.deepEqual([r.totals.invocations, r.totals.received, r.totals.published, r.totals.deadLettered], [5, 10, 9, 1])
    assert.deepEqual(Object.keys(r.rules), ['device-commands', 'home-lamps', 'orders-v5', 'warehouse-orders'])
    const hl = r.rules['home-lamps']!
    assert.deepEqual([hl.invocations, hl.received, hl.published, hl.deadLettered], [2, 5, 4, 1])
    // RawData carries no time, so no lag: one lag for home-lamps (the first batch), not two.
    assert.equal(hl.lagMs?.invocations, 1)
    assert.ok(r.connections.events['bridge.pre-stop'] === 1 && (r.connections.events['mqtt.connected'] ?? 0) >= 1)
  })
})

describe('edge cases', () => {
  const line = (o: object, requestId = 'r-1', time = '2026-01-31T08:00:00.000Z') =>
    `${time} ${requestId} [info] ${JSON.stringify({ requestId, ...o })}`

  test('dead letters whose summary is missing (cut off by the window) still count, under their rule', () => {
    const report = new LogReport()
    report.add(parseLine(line({ event: 'bridge.dead-letter', ruleId: 'a', reason: 'bad' })))
    report.flushOrphans(Date.now(), true)
    const { all, rules } = report.totals()
    assert.deepEqual([all.invocations, all.deadLettered, rules.get('a')?.deadLettered], [0, 1, 1])
  })

  test('the bridge caps its per-message lines: the "more" line counts in the reasons, not as a reason of its own text', () => {
    const report = new LogReport()
    report.add(parseLine(line({ event: 'bridge.dead-letter', ruleId: 'a', reason: 'bad' })))
    report.add(parseLine(line({ event: 'bridge.dead-letter', more: 250, note: '250 more like the above' })))
    report.add(
      parseLine(line({ event: 'bridge.invocation', received: 251, published: 0, deadLettered: 251, rules: {}, lagMs: 5, outcome: 'ok' })),
    )
    assert.deepEqual(
      [...report.deadLetterReasons],
      [
        ['bad', 1],
        ['(250 more, not itemised in the log)', 250],
      ],
    )
    assert.equal(report.totals().rules.get('a')?.deadLettered, 251)
  })

  test('an invocation no line ties to a rule (all duplicates) is unattributed; a line without a time has no minute', () => {
    const report = new LogReport()
    report.add(
      parseLine(JSON.stringify({ event: 'bridge.invocation', requestId: 'r', received: 3, duplicates: 3, rules: {}, lagMs: null })),
    )
    assert.deepEqual([...report.minutes.keys()], [NO_TIME])
    assert.equal(report.totals().rules.get(UNATTRIBUTED)?.duplicates, 3)
  })

  test('nearest-rank quantiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1)
    assert.deepEqual([quantile(v, 0.5), quantile(v, 0.99), quantile([7], 0.99), quantile([], 0.5)], [50, 99, 7, undefined])
  })

  test('the chart: the largest value fills the column, a small one gets an eighth block, no data stays blank', () => {
    const rows = barChart({ title: 't', values: [8, 1, undefined, 4], from: 'a', to: 'b' }, 2)
    assert.deepEqual(rows, ['t', '8 ┤█   ', '0 ┼█▂ █', '   a  b'])
    assert.deepEqual(
      squeeze([1, 2, 3, 4, 5], 2, (a, b) => a + b),
      [6, 9],
    )
  })
})

describe('the command', () => {
  const cli = (args: string[], input = '') =>
    spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/cli/logs.ts'), ...args], {
      input,
      encoding: 'utf8',
      timeout: 30_000,
    })

  test('--help; a usage error exits 2; input without a bridge line exits 1 and says what it expected', () => {
    assert.equal(cli(['--help']).status, 0)
    assert.match(cli(['--help']).stdout, /^usage: npm run logs/)
    assert.equal(cli(['--top', 'x', S_LOGS]).status, 2)
    const none = cli([], 'just some text\nFC Invoke Start RequestId: 1-x\n')
    assert.equal(none.status, 1)
    assert.match(none.stderr, /no bridge log lines among 2 lines/)
  })

  test('reads standard input when no file is given, as `s logs | npm run logs` does', () => {
    const r = cli(['--json'], readFileSync(S_LOGS, 'utf8'))
    assert.equal(r.status, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as Json).totals.invocations, 9)
  })

  test('--follow prints rolling updates as the stream grows, and a last one when it ends', async () => {
    const lines = readFileSync(S_LOGS, 'utf8').split('\n')
    const half = lines.findIndex((l) => l.includes('08:33:10'))
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts/cli/logs.ts'), '--follow', '--json', '--interval', '0.2', '--window', '1000000'],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    const updates: Json[] = []
    let buffer = ''
    const waiters: Array<() => void> = []
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString()
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        updates.push(JSON.parse(buffer.slice(0, i)) as Json)
        buffer = buffer.slice(i + 1)
        for (const w of waiters.splice(0)) w()
      }
    })
    const next = (done: (u: Json) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no such update: ${JSON.stringify(updates.map((u) => u.totals.invocations))}`)),
          20_000,
        )
        const check = () => {
          if (updates.some(done)) {
            clearTimeout(timer)
            resolve()
          } else waiters.push(check)
        }
        check()
      })
    child.stdin.write(`${lines.slice(0, half).join('\n')}\n`)
    await next((u) => u.totals.invocations === 5)
    child.stdin.end(lines.slice(half).join('\n'))
    const code = await new Promise<number | null>((r) => child.once('exit', r))
    assert.equal(code, 0)
    assert.equal(updates.at(-1)!.totals.invocations, 9)
  })
})

describe('hostile lines', () => {
  test('a line over the cap is ignored; a bridge line with a long reason is read whole', () => {
    const reason = 'r'.repeat(200_000)
    const long = `2026-01-31T08:00:00.000Z 1-abc [warn] ${JSON.stringify({ event: 'bridge.dead-letter', requestId: '1-abc', reason })}`
    assert.equal(parseLine(long)?.fields['reason'], reason)
    assert.equal(parseLine(`2026-01-31T08:00:00.000Z 1-abc [info] {"event":"bridge.invocation","x":"${'y'.repeat(MAX_LINE)}"}`), undefined)
    assert.equal(parseLine(`2026-01-31T08:00:00.000Z 1-abc [info] ${'{'.repeat(100_000)}`), undefined)
  })
})
