// Many batches through one warm bridge, in a child process of its own: for resident memory (--expose-gc, RSS after
// gc at checkpoints) and for the CPU profile (--cpu-prof, from the sources so that it names shared/*.ts). The child
// reports each batch and the counting subscriber expects it, so a missing message still fails the run.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { messageOf } from '../../shared/errors.js'
import type { BridgeModule } from './bridge.js'
import type { Deliveries, Delivery } from './deliveries.js'
import { cloudEventBatch } from './messages.js'
import { summarizeProfile } from './profile.js'
import type { Counted, Results } from './report.js'

interface SoakPlan {
  /** `bundle`: require the built bridge; `source`: import functions/bridge/index.ts through tsx. */
  bridge: { kind: 'bundle' | 'source'; path: string }
  batches: number
  batchSize: number
  /** An RSS sample each time this many more messages were published. */
  checkpointEvery: number
  keyPrefix: string
}

export interface RssSample {
  messages: number
  rssMb: number
  heapUsedMb: number
}

type FromSoak =
  | { type: 'batch'; key: string; count: number }
  | { type: 'rss'; sample: RssSample }
  | { type: 'done'; gcExposed: boolean; publishMs: number }
  | { type: 'error'; message: string }

const self = fileURLToPath(import.meta.url)
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
export const BRIDGE_SOURCE = (root: string) => join(root, 'functions', 'bridge', 'index.ts')

/** Runs `plan` in a child; resolves when it is done and every batch was counted, with the deliveries as one measured set. */
async function runSoak(scenario: string, plan: SoakPlan, nodeFlags: string[], env: NodeJS.ProcessEnv, deliveries: Deliveries, cwd: string) {
  const child = fork(self, ['--child', JSON.stringify(plan)], {
    execArgv: [...nodeFlags, '--import', 'tsx'],
    env,
    cwd,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const samples: RssSample[] = []
  const counted: Array<Promise<Delivery>> = []
  let finished: { gcExposed: boolean; publishMs: number } | undefined
  let failure: Error | undefined
  const timer = setTimeout(() => {
    failure ??= new Error('the soak child did not finish within 600 s')
    child.kill('SIGKILL')
  }, 600_000)
  child.on('message', (m: FromSoak) => {
    if (m.type === 'batch') counted.push(deliveries.expect(m.key, m.count))
    else if (m.type === 'rss') samples.push(m.sample)
    else if (m.type === 'done') finished = m
    else failure ??= new Error(`soak child: ${m.message}`)
  })
  const [code, signal] = await once(child, 'exit')
  clearTimeout(timer)
  if (failure) throw failure
  if (!finished) throw new Error(`the soak child exited (${signal ?? code}) before it was done`)
  const d = await Promise.all(counted)
  const [delivered, total] = [d.reduce((a, x) => a + x.delivered, 0), d.reduce((a, x) => a + x.total, 0)]
  const tally = { sent: plan.batches * plan.batchSize, delivered, duplicates: total - delivered }
  return { samples, gcExposed: finished.gcExposed, publishMs: finished.publishMs, counted: { scenario, ...tally } }
}

async function child(plan: SoakPlan): Promise<void> {
  const send = (m: FromSoak) => process.send!(m)
  const mod = (
    plan.bridge.kind === 'bundle' ? createRequire(import.meta.url)(plan.bridge.path) : await import(pathToFileURL(plan.bridge.path).href)
  ) as BridgeModule
  const context = {
    requestId: 'soak',
    function: { name: 'rocketmq-mqtt-bridge', timeout: 60 },
    logger: { debug() {}, info() {}, warn: console.error, error: console.error },
  }
  const gc = (globalThis as { gc?: () => void }).gc
  await mod.initialize(context)
  let messages = 0
  let publishNs = 0n
  for (let i = 0; i < plan.batches; i++) {
    const key = `${plan.keyPrefix}${i.toString(36)}`
    const event = cloudEventBatch(key, plan.batchSize, 1)
    const start = process.hrtime.bigint()
    const summary = await mod.handler(event, context)
    publishNs += process.hrtime.bigint() - start
    if (summary.published !== plan.batchSize) throw new Error(`batch ${key}: published ${summary.published} of ${plan.batchSize}`)
    send({ type: 'batch', key, count: plan.batchSize })
    messages += plan.batchSize
    if (messages % plan.checkpointEvery === 0) {
      gc?.()
      gc?.()
      const m = process.memoryUsage()
      send({ type: 'rss', sample: { messages, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed) } })
    }
  }
  await mod.shutdown()
  await sendLast({ type: 'done', gcExposed: gc !== undefined, publishMs: Number(publishNs) / 1e6 })
}

/** Sends, then waits until the message left, so that disconnecting cannot drop it. */
function sendLast(m: FromSoak): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()))
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3]!) as SoakPlan)
    .then(() => process.disconnect())
    .catch(async (err) => {
      await sendLast({ type: 'error', message: messageOf(err) })
      process.exit(1)
    })
}

/** Resident memory of the built bridge over many batches (RSS after gc at checkpoints). */
export async function memorySoak(
  bundle: string,
  size: { batches: number; batchSize: number; checkpointEvery: number },
  d: Deliveries,
  env: NodeJS.ProcessEnv,
  root: string,
): Promise<{ memory: NonNullable<Results['memory']>; counted: Counted }> {
  const plan: SoakPlan = { bridge: { kind: 'bundle', path: bundle }, ...size, keyPrefix: 'm' }
  const r = await runSoak(`memory soak, ${plan.batches * plan.batchSize} messages`, plan, ['--expose-gc'], env, d, root)
  const [first, last] = [r.samples[0], r.samples.at(-1)]
  if (!first || !last) throw new Error('the memory soak reported no RSS samples')
  const memory = { samples: r.samples, gcExposed: r.gcExposed, firstMb: first.rssMb, lastMb: last.rssMb }
  const growthMb = Math.round((last.rssMb - first.rssMb) * 10) / 10
  return { memory: { ...memory, growthMb, firstAt: first.messages, lastAt: last.messages }, counted: r.counted }
}

/** The CPU profile of the bridge from its sources, kept beside the figures (git-ignored) for a look in Chrome DevTools. */
export async function profileSoak(
  size: { batches: number; batchSize: number },
  work: string,
  outDir: string,
  d: Deliveries,
  env: NodeJS.ProcessEnv,
  root: string,
): Promise<{ profile: NonNullable<Results['profile']>; counted: Counted }> {
  const dir = join(work, 'profile')
  const { batchSize } = size
  const plan: SoakPlan = {
    bridge: { kind: 'source', path: BRIDGE_SOURCE(root) },
    batches: size.batches + 1,
    batchSize,
    checkpointEvery: Number.MAX_SAFE_INTEGER,
    keyPrefix: 'p',
  }
  const r = await runSoak(`profile, ${plan.batches * batchSize} messages`, plan, ['--cpu-prof', '--cpu-prof-dir', dir], env, d, root)
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('node --cpu-prof wrote no profile')
  const kept = join(outDir, `bridge-${batchSize}-qos1.cpuprofile`)
  mkdirSync(dirname(kept), { recursive: true })
  writeFileSync(kept, readFileSync(join(dir, file)))
  const scenario = `${plan.batches} batches of ${batchSize.toLocaleString('en-US')}, QoS 1, MQTT 5, pool 1, sources through tsx; handler time ${Math.round(r.publishMs)} ms`
  return { profile: { ...summarizeProfile(kept), scenario }, counted: r.counted }
}
