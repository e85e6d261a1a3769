// Cold start, each run in a fresh node process: loading each function (the bundle with require, the sources
// through tsx), and from loading the bridge to its first acknowledged publish. The median of the runs counts.
import { type StdioOptions, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Deliveries } from './deliveries.js'
import { median, round } from './measure.js'
import { cloudEventBatch, nextKey } from './messages.js'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..')

export type LoadTimes = Awaited<ReturnType<typeof loadTimes>>
export type FirstPublish = Awaited<ReturnType<typeof firstPublish>>

interface NodeOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  stdin?: Readable
  /** Then killed (SIGKILL). */
  timeoutMs?: number
  stderr?: 'inherit'
}

/** `node <args>`: the JSON of the last stdout line that is one, and the milliseconds from spawn to exit. */
export async function nodeJson<T>(args: string[], o: NodeOptions = {}): Promise<{ json: T; ms: number }> {
  const start = process.hrtime.bigint()
  const stdio: StdioOptions = ['pipe', 'pipe', o.stderr ?? 'pipe']
  const child = spawn(process.execPath, args, { env: o.env ?? process.env, cwd: o.cwd, stdio, timeout: o.timeoutMs, killSignal: 'SIGKILL' })
  if (o.stdin) o.stdin.pipe(child.stdin!)
  else child.stdin!.end()
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal, ms: Number(process.hrtime.bigint() - start) / 1e6 }))
  const [out, err, { code, signal, ms }] = await Promise.all([text(child.stdout!), child.stderr ? text(child.stderr) : '', exited])
  const line = out.split('\n').findLast((l) => l.startsWith('{'))
  if (code !== 0 || !line) throw new Error(`node ${args[0]} … failed (${signal ?? code}): ${err.trim().slice(-4000) || out.slice(-500)}`)
  return { json: JSON.parse(line) as T, ms }
}

const timed = (load: string) => `const t0 = process.hrtime.bigint(); ${load};
console.log(JSON.stringify({ loadMs: Number(process.hrtime.bigint() - t0) / 1e6 }))`

/** Loads the bridge, then one invocation with one QoS 1 message. */
const FIRST_PUBLISH = (
  load: string,
  eventFile: string,
) => `const event = (await import('node:fs')).readFileSync(${JSON.stringify(eventFile)});
const context = { requestId: 'cold', function: { timeout: 60 }, logger: { debug() {}, info() {}, warn: console.error, error: console.error } };
const t0 = process.hrtime.bigint();
const m = ${load};
const t1 = process.hrtime.bigint();
const summary = await m.handler(event, context);
const t2 = process.hrtime.bigint();
await m.shutdown();
console.log(JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, firstAckMs: Number(t2 - t0) / 1e6, published: summary.published }))`

const node = (args: string[], env: NodeJS.ProcessEnv) => nodeJson<{ loadMs: number }>(args, { env, cwd: ROOT, timeoutMs: 30_000 })

export async function loadTimes(functions: string[], bundleDir: string, env: NodeJS.ProcessEnv, runs: number, mqttAlone: string) {
  const load = async (args: string[]) => (await node(args, env)).json.loadMs
  const bundle: Record<string, number> = {}
  const source: Record<string, number> = {}
  const reference: number[] = []
  for (const fn of functions) {
    const [b, s]: [number[], number[]] = [[], []]
    for (let i = 0; i < runs; i++) {
      // The reference beside each function's run, so that drift in the machine's speed touches both.
      reference.push(await load(['-e', timed(`require(${JSON.stringify(mqttAlone)})`)]))
      b.push(await load(['-e', timed(`require(${JSON.stringify(join(bundleDir, fn, 'index.js'))})`)]))
      const url = pathToFileURL(join(ROOT, 'functions', fn, 'index.ts')).href
      s.push(await load(['--import', 'tsx', '--input-type=module', '-e', timed(`await import(${JSON.stringify(url)})`)]))
    }
    bundle[fn] = round(median(b), 1)
    source[fn] = round(median(s), 1)
  }
  return { bundle, source, mqttAlone: round(median(reference), 1), runs }
}

/** Medians: loading the bridge (the bundle, or the sources through tsx), to its first acknowledged publish, spawn to exit. */
export async function firstPublish(
  kind: 'bundle' | 'source',
  bridgePath: string,
  work: string,
  env: NodeJS.ProcessEnv,
  runs: number,
  deliveries: Deliveries,
) {
  const path = JSON.stringify(bridgePath)
  const load =
    kind === 'bundle'
      ? `(await import('node:module')).createRequire(${path})(${path})`
      : `await import(${JSON.stringify(pathToFileURL(bridgePath).href)})`
  const flags = kind === 'bundle' ? ['--input-type=module'] : ['--import', 'tsx', '--input-type=module']
  const [loads, acks, wall]: [number[], number[], number[]] = [[], [], []]
  let delivered = 0
  for (let i = 0; i < runs; i++) {
    const key = nextKey('c')
    const eventFile = join(work, `cold-${key}.json`)
    writeFileSync(eventFile, cloudEventBatch(key, 1, 1))
    const arrived = deliveries.expect(key, 1)
    const { json, ms } = await node([...flags, '-e', FIRST_PUBLISH(load, eventFile)], env)
    const { loadMs, firstAckMs, published } = json as typeof json & { firstAckMs: number; published: number }
    if (published !== 1) throw new Error(`cold start (${kind}): published ${published} of 1`)
    delivered += (await arrived).delivered
    loads.push(loadMs)
    acks.push(firstAckMs)
    wall.push(ms)
  }
  const [loadMs, firstAckMs, processMs] = [loads, acks, wall].map((xs) => round(median(xs), 1)) as [number, number, number]
  return { loadMs, firstAckMs, processMs, runs, sent: runs, delivered }
}
