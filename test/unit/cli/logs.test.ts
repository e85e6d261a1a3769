// `npm run logs`: the report from bridge log lines, on fixtures of what `s logs` prints
// (test/fixtures/s-logs-bridge.txt) and of what `npm start` printed (test/fixtures/npm-start-output.txt).

import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { logDay } from '../../../scripts/bench/log-day.js'
import { LogReport, NO_TIME, UNATTRIBUTED } from '../../../scripts/cli/logs/aggregate.js'
import { MAX_LINE, parseLine } from '../../../scripts/cli/logs/parse-line.js'
import { barChart, reportJson, reportText } from '../../../scripts/cli/logs/render.js'
import { LAG_ACCURACY, LagSketch } from '../../../scripts/cli/logs/stats.js'
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
    assert.deepEqual(r.lines, { read: 68, bridge: 18, ignored: 50, oversized: 0 })
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
    assert.match(
      text,
      /^rule +invocations +received +published +dead-lettered +duplicates +filtered +expired +failed +unaccounted +lag p50 +lag p99 +lag max$/m,
    )
    assert.match(text, /^device-commands +5 +42 +31 +0 +8 +1 +0 +2 +0 +150 ms +14\.0 s +14\.0 s$/m)
    assert.match(text, /^all rules +9 +56 +42 +3 +8 +1 +0 +2 +0 /m)
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
    report.flushOrphans(Date.now(), Number.POSITIVE_INFINITY, true)
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

  test('nearest-rank quantiles: exact for a few lags, within 1 % past them', () => {
    const few = new LagSketch()
    for (let i = 1; i <= 100; i++) few.add(i)
    assert.deepEqual([few.quantile(0.5), few.quantile(0.99), new LagSketch().quantile(0.5)], [50, 99, undefined])
    const many = new LagSketch()
    for (let i = 1; i <= 100_000; i++) many.add(i)
    for (const [q, exact] of [
      [0.5, 50_000],
      [0.99, 99_000],
    ] as const)
      assert.ok(Math.abs(many.quantile(q)! - exact) <= exact * LAG_ACCURACY, `p${q * 100}: ${many.quantile(q)}`)
    assert.equal(many.max, 100_000)
  })

  test('the chart: the largest value fills the column, a small one gets an eighth block, no data stays blank', () => {
    const rows = barChart({ title: 't', values: [8, 1, undefined, 4], from: 'a', to: 'b' }, 2)
    assert.deepEqual(rows, ['t', '8 ┤█   ', '0 ┼█▂ █', '   a  b'])
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

describe('a day of production, in bounded memory, whatever the log holds', () => {
  const at = (t: string, o: object, requestId = 'r-1', level = 'info') =>
    `${t} ${requestId} [${level}] ${JSON.stringify({ requestId, ...o })}`
  const invocation = (counts: object = {}) => ({
    event: 'bridge.invocation',
    received: 1,
    published: 1,
    rules: { a: 1 },
    lagMs: 5,
    ...counts,
  })
  /** Runs the command over lines made as it reads them: a stream, never a file or one big string. */
  const over = (args: string[], lines: () => Iterable<string>, io: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}) => {
    let out = ''
    let err = ''
    // In chunks of many lines, as a pipe delivers them.
    const stdin = Readable.from(
      (function* () {
        let chunk = ''
        for (const l of lines()) {
          chunk += `${l}\n`
          if (chunk.length > 65_536) yield chunk
          if (chunk.length > 65_536) chunk = ''
        }
        yield chunk
      })(),
    )
    const write = (t: string) => {
      out += t
    }
    const error = (t: string) => {
      err += t
    }
    return main(args, { stdin, write, error, tty: io.tty ?? false, env: io.env ?? {} }).then((code) => ({ code, out, err }))
  }

  test('130,000 invocation lines over a day: text and --json, every lag counted (a spread over them overflowed the stack)', async () => {
    const lines = function* () {
      for (let i = 0; i < 130_000; i++)
        yield at(new Date(Date.UTC(2026, 0, 31, 0, 0, i % 86_400)).toISOString(), invocation({ lagMs: i % 1000 }), `r-${i}`)
    }
    const text = await over([], lines)
    assert.equal(text.code, 0, text.err)
    assert.match(text.out, /^all rules +130,000 +130,000 +130,000 /m)
    const json = await over(['--json'], lines)
    const r = JSON.parse(json.out) as Json
    assert.equal(r.totals.lagMs?.invocations, 130_000)
    assert.equal(r.totals.lagMs?.max, 999)
    assert.ok(Math.abs(r.totals.lagMs!.p50 - 500) <= 5, `p50 ${r.totals.lagMs?.p50}`)
  })

  test('a 700 MB line is skipped and counted, its bytes never made a string; the lines around it count', async () => {
    const mb = Buffer.alloc(1024 * 1024, 0x78)
    const stdin = Readable.from(
      (function* () {
        yield Buffer.from(`${at('2026-01-31T08:00:00Z', invocation(), 'before')}\n{"event":"bridge.invocation","x":"`)
        for (let i = 0; i < 700; i++) yield mb
        yield Buffer.from(`"}\n${at('2026-01-31T08:00:01Z', invocation(), 'after')}\n`)
      })(),
    )
    let out = ''
    const write = (t: string) => {
      out += t
    }
    const code = await main(['--json'], { stdin, write, error: () => {}, tty: false })
    const r = JSON.parse(out) as Json
    assert.equal(code, 0)
    assert.deepEqual(r.lines, { read: 3, bridge: 2, ignored: 1, oversized: 1 })
    assert.equal(r.totals.invocations, 2)
  })

  test('one line from 1970 and one from 2026: a short chart, the outlier listed beside it, not charted', async () => {
    const lines = () => [
      at('1970-01-01T00:00:00Z', invocation(), 'old'),
      at('2026-01-31T08:00:00Z', invocation()),
      at('2026-01-31T08:09:00Z', invocation(), 'r-2'),
    ]
    const text = await over(['--utc'], lines)
    assert.equal(text.code, 0, text.err)
    assert.match(text.out, /^Published per minute$/m)
    assert.match(text.out, /^Outside the chart \(1 minutes far from the rest\): 1970-01-01 00:00 \(1 invocations\)$/m)
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.deepEqual(r.outsideChart, [{ minute: '1970-01-01T00:00:00.000Z', invocations: 1 }])
  })

  test('years 0001 and 9999, in ISO and as `s logs` prints local times: reported, not a crash', async () => {
    const lines = () => [
      at('0001-01-01T00:00:00Z', invocation(), 'a'),
      at('9999-12-31T23:59:00Z', invocation(), 'b'),
      at('0001-01-01 00:00:00', invocation(), 'c'),
      at('9999-12-31 23:59:59', invocation(), 'd'),
    ]
    const text = await over(['--utc'], lines)
    assert.equal(text.code, 0, text.err)
    assert.match(text.out, /^all rules +4 /m)
    assert.match(text.out, /0001-01-01 00:00/)
    assert.match(text.out, /9999-12-31 23:59/)
    assert.equal(parseLine(at('0001-01-01 00:00:00', invocation()))?.time, new Date('0001-01-01T00:00:00').getTime())
    assert.equal((JSON.parse((await over(['--json'], lines)).out) as Json).totals.invocations, 4)
  })

  test('--follow with a line dated in the future: a report, then the last one at the end', async () => {
    const r = await over(['--follow', '--interval', '0.1'], () => [
      at('2999-01-01T00:00:00Z', invocation()),
      at(new Date().toISOString(), invocation(), 'r-2'),
    ])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /^all rules +2 /m)
  })

  test('counts that are no counts (1e308, -1, 1.5, text) are rejected and counted; the report still adds up', async () => {
    const lines = () => [
      at('2026-01-31T08:00:00Z', invocation({ received: 1e308, published: 1e308 }), 'a'),
      at('2026-01-31T08:00:01Z', invocation({ received: 1e308, published: 1e308 }), 'b'),
      at('2026-01-31T08:00:02Z', invocation({ failed: -1 }), 'c'),
      at('2026-01-31T08:00:03Z', invocation({ duplicates: 1.5 }), 'd'),
      at('2026-01-31T08:00:04Z', invocation({ lagMs: Number.MAX_VALUE }), 'e'),
      at('2026-01-31T08:00:05Z', invocation(), 'f'),
    ]
    const text = await over([], lines)
    assert.equal(text.code, 0, text.err)
    assert.match(text.out, /^all rules +2 +2 +2 /m)
    assert.match(text.out, /^ {2}2 × bridge\.invocation with received not a whole number/m)
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.equal(
      Object.values(r.rejected).reduce((a, n) => a + n, 0),
      5,
    )
    assert.equal(r.totals.lagMs?.invocations, 1)
  })

  test('rule names and outcomes are data: `constructor` and `__proto__` are counted like any other', async () => {
    // Written out: an object literal with `__proto__` would set the prototype, not a key.
    const proto =
      '2026-01-31T08:00:01Z b [info] {"requestId":"b","event":"bridge.invocation","received":1,"published":1,"rules":{"__proto__":1},"outcome":"__proto__"}'
    const lines = () => [
      at('2026-01-31T08:00:00Z', invocation({ outcome: 'constructor', rules: { constructor: 1 } }), 'a'),
      proto,
      at('2026-01-31T08:00:02Z', invocation({ outcome: 'constructor', rules: { constructor: 1 } }), 'c'),
    ]
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.deepEqual(Object.entries(r.totals.outcomes), [
      ['__proto__', 1],
      ['constructor', 2],
    ])
    assert.deepEqual(
      Object.entries(r.rules).map(([k, s]) => [k, s.published]),
      [
        ['__proto__', 1],
        ['constructor', 2],
      ],
    )
  })

  test('escape sequences in rule IDs, outcomes, reasons and event names reach the terminal escaped, after JSON decoding', async () => {
    const evil = [
      '\u001b[2J',
      '\u001b]0;title\u0007',
      '\u001b]52;c;cGF5bG9hZA==\u0007',
      '\u001b]8;;http://x\u001b\\',
      '\u009b31m',
      '\u202eevil',
    ]
    const lines = () => [
      at('2026-01-31T08:00:00Z', { event: 'bridge.dead-letter', ruleId: evil[0], reason: evil.join('|') }),
      at('2026-01-31T08:00:00Z', invocation({ received: 1, published: 0, deadLettered: 1, rules: {}, outcome: evil[1] })),
      at('2026-01-31T08:00:01Z', { event: `mqtt.${evil[2]}` }),
      at('2026-01-31T08:00:02Z', invocation({ rules: { [evil[4]!]: 1 }, outcome: evil[5] }), 'r-2'),
    ]
    const raw = /[\u001b\u0007\u0080-\u009f\u202e]/
    for (const args of [[], ['--json'], ['--follow', '--interval', '0.1']]) {
      const r = await over(args, lines)
      assert.equal(r.code, 0, r.err)
      assert.doesNotMatch(r.out, raw, `npm run logs ${args.join(' ')}`)
    }
    const text = (await over([], lines)).out
    assert.match(text, /\\u001b\[2J/)
    assert.match(text, /\\u009b31m/)
    const json = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.equal(json.deadLetterReasons[0]!.reason, evil.join('|'), 'the JSON decodes to what the bridge logged')
  })

  test('--follow on a terminal clears the screen between updates; with NO_COLOR, or not a terminal, it writes no escape at all', async () => {
    const lines = () => [at(new Date().toISOString(), invocation())]
    assert.match((await over(['--follow', '--interval', '0.1'], lines, { tty: true })).out, /\u001b\[2J/)
    assert.doesNotMatch((await over(['--follow', '--interval', '0.1'], lines, { tty: true, env: { NO_COLOR: '1' } })).out, /\u001b/)
    assert.doesNotMatch((await over(['--follow', '--interval', '0.1'], lines)).out, /\u001b/)
  })

  test('every message accounted for: per rule, and each invocation line that does not add up is flagged', async () => {
    const lines = () => [
      at('2026-01-31T08:00:00Z', invocation({ received: 5, published: 2, filtered: 1, expired: 1, duplicates: 1, rules: { a: 2 } })),
      at('2026-01-31T08:00:01Z', invocation({ received: 7, published: 3, rules: { a: 3 } }), 'short'),
    ]
    const text = await over(['--utc'], lines)
    assert.match(text.out, /^a +2 +12 +5 +0 +1 +1 +1 +0 +4 /m)
    assert.match(text.out, /^Invocation lines that do not add up: 1$/m)
    assert.match(text.out, /^ {2}2026-01-31 08:00 {2}short: received 7 ≠ 3 \+ 0 \+ 0 \+ 0 \+ 0 \+ 0 \(4\)$/m)
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.deepEqual([r.unbalanced.lines, r.rules['a']!.unaccounted, r.rules['a']!.expired], [1, 4, 1])
  })

  test('filtered, expired and duplicates counted under the rules their lines name; bridge.filtered is no connection event', async () => {
    const lines = () => [
      at('2026-01-31T08:00:00Z', { event: 'bridge.filtered', filtered: 3, rules: { b: 2, c: 1 } }),
      at('2026-01-31T08:00:00Z', { event: 'bridge.expired', expired: 1, rules: { c: 1 } }),
      at('2026-01-31T08:00:00Z', { event: 'bridge.duplicates', duplicates: 2, rules: { b: 2 } }),
      at('2026-01-31T08:00:00Z', invocation({ received: 8, published: 2, filtered: 3, expired: 1, duplicates: 2, rules: { b: 2 } })),
    ]
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    const of = (rule: string) => {
      const s = r.rules[rule]!
      return [s.received, s.published, s.filtered, s.expired, s.duplicates, s.unaccounted]
    }
    assert.deepEqual(
      [of('b'), of('c')],
      [
        [6, 2, 2, 0, 2, 0],
        [2, 0, 1, 1, 0, 0],
      ],
    )
    assert.equal(r.rules[UNATTRIBUTED], undefined)
    assert.deepEqual(r.connections.events, {})
  })

  test('a broker outage: connection failures and reconnects counted, not just mqtt.connected', async () => {
    const reason = 'cannot reach the MQTT broker at mqtt://b:1883: ECONNREFUSED'
    const lines = () => [
      at('2026-01-31T08:00:00Z', { event: 'mqtt.connected', clientId: 'GID_bridge@@@x0' }, 'init'),
      at(
        '2026-01-31T08:01:00Z',
        { event: 'mqtt.client-error', clientId: 'GID_bridge@@@x0', error: 'connection reset (ECONNRESET)' },
        'r-1',
      ),
      ...[1, 2, 3].flatMap((i) => [
        at(`2026-01-31T08:0${i}:00Z`, { event: 'bridge.failure', ruleId: 'a', reason }, `r-${i}`, 'error'),
        at(`2026-01-31T08:0${i}:00Z`, invocation({ published: 0, failed: 1, rules: {}, outcome: 'retry' }), `r-${i}`, 'error'),
      ]),
      at('2026-01-31T08:04:00Z', { event: 'mqtt.connected', clientId: 'GID_bridge@@@x0' }, 'r-4'),
    ]
    const r = JSON.parse((await over(['--json'], lines)).out) as Json
    assert.deepEqual(r.connections.connectFailures, [{ reason, count: 3 }])
    assert.equal(r.connections.reconnects, 1)
    assert.equal(r.rules['a']!.failed, 3)
    assert.match((await over([], lines)).out, /reconnects \(a client ID connected again\): 1; failures to connect: 3/)
  })

  test('duplicates and expired counted under the rules their count lines name; the fleet store’s failures to connect among the connection failures', async () => {
    const t = '2026-01-31T08:00:00Z'
    const r = JSON.parse(
      (
        await over(['--json'], () => [
          at(t, { event: 'bridge.duplicates', duplicates: 2, rules: { a: 2 } }),
          at(t, { event: 'bridge.expired', expired: 3, rules: { a: 1, b: 2 } }),
          at(t, { event: 'bridge.expired-message', ruleId: 'a', ageMs: 700_000, deadline: '10m', from: 'time', kept: 'dropped' }),
          at(t, invocation({ received: 6, published: 1, duplicates: 2, expired: 3, rules: { a: 1 } })),
          at(t, { event: 'fleet.connect-failed', reason: 'connect ECONNREFUSED 10.0.0.9:6379' }, 'r-2', 'warn'),
        ])
      ).out,
    ) as Json
    const rule = (id: string) => r.rules[id]!
    assert.deepEqual([rule('a').duplicates, rule('a').expired, rule('b').expired], [2, 1, 2])
    assert.equal(r.unbalanced.lines, 0)
    assert.equal(r.connections.connectFailuresTotal, 1)
    assert.match(JSON.stringify(r.connections.connectFailures), /fleet store: connect ECONNREFUSED/)
    assert.equal(r.connections.events['bridge.expired-message'], undefined)
  })

  test('one time zone, stated in the header and beside the per-minute table', async () => {
    const out = (await over(['--utc'], () => [at('2026-01-31T08:00:00Z', invocation())])).out
    assert.match(out, /^Bridge logs: .*2026-01-31 08:00 to 2026-01-31 08:00 \(UTC\)$/m)
    assert.match(out, /^Per minute \(UTC\)/m)
    assert.match((await over([], () => [at('2026-01-31T08:00:00Z', invocation())])).out, /\(local time, UTC[+-]\d\d:\d\d\)$/m)
  })

  test('the day of log-day.ts: the outage and the burst of dead letters show', async () => {
    const r = JSON.parse((await over(['--json'], () => logDay(2880, new Date('2026-02-01T00:00:00Z')))).out) as Json
    assert.equal(r.totals.invocations, 2880)
    assert.equal(r.unbalanced.lines, 0)
    assert.ok(r.connections.connectFailuresTotal > 0 && r.connections.reconnects === 1, JSON.stringify(r.connections))
    assert.match(r.deadLetterReasons[0]!.reason, /qoslevel/)
    assert.deepEqual(r.outsideChart, [])
  })

  test('property: the report never throws, on any line, and what it counts adds up', () => {
    const value = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.double(), fc.string())),
    )
    const bridgeLine = fc.record(
      {
        event: fc.constantFrom(
          'bridge.invocation',
          'bridge.dead-letter',
          'bridge.failure',
          'bridge.filtered',
          'bridge.expired',
          'mqtt.connected',
          'mqtt.x',
        ),
        requestId: fc.constantFrom('a', 'b', '__proto__'),
        received: value,
        published: value,
        deadLettered: value,
        failed: value,
        more: value,
        lagMs: value,
        outcome: value,
        rules: value,
        ruleId: value,
        reason: value,
        clientId: value,
      },
      { requiredKeys: ['event'] },
    )
    const time = fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom('0001-01-01 00:00:00', '9999-12-31 23:59:59', 'x'),
    )
    const line = fc.oneof(
      fc.string(),
      fc.tuple(time, bridgeLine).map(([t, o]) => `${t} ${String(o.requestId)} [info] ${JSON.stringify(o)}`),
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const report = new LogReport()
        for (const l of lines) report.add(parseLine(l))
        report.flushOrphans(Date.now(), Number.POSITIVE_INFINITY, true)
        reportText(report)
        const r = reportJson(report)
        const { all } = report.totals()
        assert.ok([all.received, all.published, all.failed].every(Number.isSafeInteger))
        const balanced = r.totals.unaccounted === 0
        assert.equal(balanced || report.unbalancedLines > 0 || r.totals.invocations < r.totals.received, true)
      }),
      { numRuns: 300 },
    )
  })
})
