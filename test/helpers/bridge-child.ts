// A bridge in a child process, driven over stdin/stdout one JSON line at a time, so a test can freeze it the
// way Function Compute freezes an idle instance: `freeze` blocks the child's own event loop (no PINGREQ goes
// out, nothing is read) and, on waking, runs the next invocation at once, before any pending I/O is seen.
//   {"handle": <event>, "freezeMs"?: n}  ->  {"summary": …} or {"error": "…"}, then {"lines": [log lines]}
import { createInterface } from 'node:readline'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { fcContext } from './fc-context.js'
import { SCENARIO_RULES } from './scenario.js'

const bridge = new Bridge(
  loadConfig(process.env),
  loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' })),
)
let n = 0

const reply = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

createInterface({ input: process.stdin }).on('line', (line) => {
  const { handle, freezeMs } = JSON.parse(line) as { handle: unknown; freezeMs?: number }
  if (freezeMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, freezeMs)
  const ctx = fcContext(`child-${++n}`, 30)
  bridge.handle(handle, ctx).then(
    (summary) => reply({ summary, lines: ctx.lines }),
    (err: Error) => reply({ error: err.message, lines: ctx.lines }),
  )
})
process.stdin.on('end', () => {
  void bridge.close().then(() => process.exit(0))
})
