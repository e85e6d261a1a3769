// Cold start, each in a fresh `node -e` process: the time to load each function (the bundle with
// require, the unbundled sources through tsx with import), and the time from loading the bridge to its
// first acknowledged publish. Several runs each; the median is what counts.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Deliveries } from './deliveries.js'
import { median, round } from './measure.js'
import { cloudEventBatch, nextKey } from './messages.js'

export interface LoadTimes {
  /** Function name -> median milliseconds to load it. */
  bundle: Record<string, number>
  source: Record<string, number>
  /** MQTT.js alone, bundled like the bridge, loaded in the same runs: median milliseconds. */
  mqttAlone: number
  runs: number
}

export interface FirstPublish {
  /** Median over the runs: load, load to first acknowledged publish, and the whole process (spawn to exit). */
  loadMs: number
  firstAckMs: number
  processMs: number
  runs: number
}

interface ChildTimes {
  loadMs: number
  firstAckMs?: number
  published?: number
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs = 30_000,
): Promise<{ times: ChildTimes; processMs: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const processMs = Number(process.hrtime.bigint() - start) / 1e6
      const line = out.split('\n').find((l) => l.startsWith('{"loadMs"'))
      if (code !== 0 || !line)
        return reject(new Error(`node ${args.slice(0, -1).join(' ')} -e … failed (${signal ?? code}): ${err.trim() || out.trim()}`))
      resolve({ times: JSON.parse(line) as ChildTimes, processMs })
    })
  })
}

const LOAD_BUNDLE = (path: string) => `const t0 = process.hrtime.bigint(); require(${JSON.stringify(path)});
console.log(JSON.stringify({ loadMs: Number(process.hrtime.bigint() - t0) / 1e6 }))`

const LOAD_SOURCE = (path: string) => `const t0 = process.hrtime.bigint(); await import(${JSON.stringify(pathToFileURL(path).href)});
console.log(JSON.stringify({ loadMs: Number(process.hrtime.bigint() - t0) / 1e6 }))`

/** Loads the bridge, then one invocation with one QoS 1 message; prints the times. */
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

export async function loadTimes(
  functions: string[],
  bundleDir: string,
  root: string,
  env: NodeJS.ProcessEnv,
  runs: number,
  mqttAlone: string,
): Promise<LoadTimes> {
  const bundle: Record<string, number> = {}
  const source: Record<string, number> = {}
  const reference: number[] = []
  for (const fn of functions) {
    const b: number[] = []
    const s: number[] = []
    for (let i = 0; i < runs; i++) {
      // The reference beside each function's run, so that drift in the machine's speed touches both.
      reference.push((await runNode(['-e', LOAD_BUNDLE(mqttAlone)], env, root)).times.loadMs)
      b.push((await runNode(['-e', LOAD_BUNDLE(join(bundleDir, fn, 'index.js'))], env, root)).times.loadMs)
      s.push(
        (await runNode(['--import', 'tsx', '--input-type=module', '-e', LOAD_SOURCE(join(root, 'functions', fn, 'index.ts'))], env, root))
          .times.loadMs,
      )
    }
    bundle[fn] = round(median(b), 1)
    source[fn] = round(median(s), 1)
  }
  return { bundle, source, mqttAlone: round(median(reference), 1), runs }
}

/** Time to the first acknowledged publish, from the bundle (`kind: bundle`) or the sources through tsx. */
export async function firstPublish(
  kind: 'bundle' | 'source',
  bridgePath: string,
  work: string,
  root: string,
  env: NodeJS.ProcessEnv,
  runs: number,
  deliveries: Deliveries,
): Promise<FirstPublish & { sent: number; delivered: number }> {
  const load =
    kind === 'bundle'
      ? `(await import('node:module')).createRequire(${JSON.stringify(bridgePath)})(${JSON.stringify(bridgePath)})`
      : `await import(${JSON.stringify(pathToFileURL(bridgePath).href)})`
  const flags = kind === 'bundle' ? ['--input-type=module'] : ['--import', 'tsx', '--input-type=module']
  const loads: number[] = []
  const acks: number[] = []
  const wall: number[] = []
  let delivered = 0
  for (let i = 0; i < runs; i++) {
    const key = nextKey('c')
    const eventFile = join(work, `cold-${key}.json`)
    writeFileSync(eventFile, cloudEventBatch(key, 1, 1))
    const arrived = deliveries.expect(key, 1)
    const { times, processMs } = await runNode([...flags, '-e', FIRST_PUBLISH(load, eventFile)], env, root)
    if (times.published !== 1) throw new Error(`cold start (${kind}): published ${times.published} of 1`)
    delivered += (await arrived).delivered
    loads.push(times.loadMs)
    acks.push(times.firstAckMs!)
    wall.push(processMs)
  }
  return {
    loadMs: round(median(loads), 1),
    firstAckMs: round(median(acks), 1),
    processMs: round(median(wall), 1),
    runs,
    sent: runs,
    delivered,
  }
}
