// A Function Compute instance of its own: the built bundle (dist/bridge/index.js) loaded with require in a child
// process, as Function Compute loads it, driven over stdin/stdout one JSON line at a time. Several invocations
// may be in flight in one instance; each answer names its request.
//   {"handle": <event>, "requestId": "…", "timeoutS": n}  ->  {"requestId", "summary"} or {"requestId", "error"}, and "lines"
// Run as a program, this file is the child; imported, it starts and drives one.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Summary } from '../../shared/bridge/summary.js'
import { fcContext } from './fc-context.js'

const SELF = fileURLToPath(import.meta.url)
export const BUNDLE = resolve(SELF, '../../../dist/bridge/index.js')

export interface Answer {
  requestId: string
  summary?: Summary
  error?: string
  /** Every log line of the invocation, `<level> <json>`. */
  lines: string[]
}

export interface Instance {
  /** One invocation with a context whose function timeout is `timeoutS` (30 by default). */
  handle(event: unknown, requestId: string, timeoutS?: number): Promise<Answer>
  /** SIGKILL: the instance dies mid-invocation, as when Function Compute kills it at its timeout. */
  kill(): Promise<void>
  /** Ends the instance the way preStop would (the pool and the fleet connection closed). */
  close(): Promise<void>
  /** Everything it wrote to stderr. */
  stderr(): string
}

export function startInstance(env: Record<string, string>): Instance {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, ...env, BRIDGE_INSTANCE_CHILD: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000)
  })
  const waiting = new Map<string, (a: Answer) => void>()
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  void exited.then(() => {
    for (const [id, answer] of waiting) answer({ requestId: id, error: `the instance exited: ${err.slice(-2000)}`, lines: [] })
    waiting.clear()
  })
  createInterface({ input: child.stdout }).on('line', (line) => {
    const a = JSON.parse(line) as Answer
    waiting.get(a.requestId)?.(a)
    waiting.delete(a.requestId)
  })
  return {
    handle: (event, requestId, timeoutS = 30) =>
      new Promise<Answer>((answer) => {
        waiting.set(requestId, answer)
        child.stdin.write(`${JSON.stringify({ handle: event, requestId, timeoutS })}\n`)
      }),
    async kill() {
      child.kill('SIGKILL')
      await exited
    },
    async close() {
      child.stdin.end()
      await exited
    },
    stderr: () => err,
  }
}

interface BridgeModule {
  handler(event: Buffer, context: unknown): Promise<Summary>
  shutdown(): Promise<void>
}

if (process.env['BRIDGE_INSTANCE_CHILD'] === '1' && process.argv[1] === SELF) {
  const bridge = createRequire(SELF)(BUNDLE) as BridgeModule
  const reply = (value: Answer) => process.stdout.write(`${JSON.stringify(value)}\n`)
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      const { handle, requestId, timeoutS } = JSON.parse(line) as { handle: unknown; requestId: string; timeoutS: number }
      const ctx = fcContext(requestId, timeoutS)
      bridge.handler(Buffer.from(JSON.stringify(handle)), ctx).then(
        (summary) => reply({ requestId, summary, lines: ctx.lines }),
        (e: Error) => reply({ requestId, error: e.message, lines: ctx.lines }),
      )
    })
    .on('close', () => {
      void bridge.shutdown().then(() => process.exit(0))
    })
}
