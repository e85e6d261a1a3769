// Many batches through one warm bridge, in a child process of its own: for resident memory (--expose-gc, RSS after
// gc at checkpoints) and for the CPU profile (--cpu-prof, from the sources so that it names shared/*.ts). Each batch
// is counted at the subscriber once the child is done, so a missing message still fails the run.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { messageOf } from '../../shared/errors.js'
import type { BridgeModule } from './bridge.js'
import { nodeJson, ROOT } from './coldstart.js'
import type { Deliveries } from './deliveries.js'
import { cloudEventBatch } from './messages.js'
import { summarizeProfile } from './profile.js'

interface SoakPlan {
  /** `bundle`: require the built bridge; `source`: import functions/bridge/index.ts through tsx. */
  bridge: { kind: 'bundle' | 'source'; path: string }
  batches: number
  batchSize: number
  /** An RSS sample each time this many more messages were published. */
  checkpointEvery: number
  keyPrefix: string
}

const self = fileURLToPath(import.meta.url)
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
const keyOf = (plan: SoakPlan, i: number) => `${plan.keyPrefix}${i.toString(36)}`
export const BRIDGE_SOURCE = join(ROOT, 'functions', 'bridge', 'index.ts')

/** Runs `plan` in a child; resolves when it is done and every batch was counted, with the deliveries as one measured set. */
async function runSoak(scenario: string, plan: SoakPlan, nodeFlags: string[], env: NodeJS.ProcessEnv, deliveries: Deliveries) {
  const args = [...nodeFlags, '--import', 'tsx', self, '--child', JSON.stringify(plan)]
  const { json } = await nodeJson<Awaited<ReturnType<typeof child>>>(args, { env, cwd: ROOT, timeoutMs: 600_000, stderr: 'inherit' })
  const d = await Promise.all(Array.from({ length: plan.batches }, (_, i) => deliveries.expect(keyOf(plan, i), plan.batchSize)))
  const [delivered, total] = [d.reduce((a, x) => a + x.delivered, 0), d.reduce((a, x) => a + x.total, 0)]
  const tally = { sent: plan.batches * plan.batchSize, delivered, duplicates: total - delivered }
  return { ...json, counted: { scenario, ...tally } }
}

async function child(plan: SoakPlan) {
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
  const samples: Array<{ messages: number; rssMb: number; heapUsedMb: number }> = []
  let publishNs = 0n
  for (let i = 0; i < plan.batches; i++) {
    const key = keyOf(plan, i)
    const event = cloudEventBatch(key, plan.batchSize, 1)
    const start = process.hrtime.bigint()
    const summary = await mod.handler(event, context)
    publishNs += process.hrtime.bigint() - start
    if (summary.published !== plan.batchSize) throw new Error(`batch ${key}: published ${summary.published} of ${plan.batchSize}`)
    const messages = (i + 1) * plan.batchSize
    if (messages % plan.checkpointEvery === 0) {
      gc?.()
      gc?.()
      const m = process.memoryUsage()
      samples.push({ messages, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed) })
    }
  }
  await mod.shutdown()
  return { samples, gcExposed: gc !== undefined, publishMs: Number(publishNs) / 1e6 }
}

if (process.argv[2] === '--child')
  await child(JSON.parse(process.argv[3]!) as SoakPlan).then(
    (figures) => console.log(JSON.stringify(figures)),
    (err) => process.stdout.write(`soak child: ${messageOf(err)}\n`, () => process.exit(1)),
  )

/** Resident memory of the built bridge over many batches (RSS after gc at checkpoints). */
export async function memorySoak(bundle: string, size: Omit<SoakPlan, 'bridge' | 'keyPrefix'>, d: Deliveries, env: NodeJS.ProcessEnv) {
  const plan: SoakPlan = { bridge: { kind: 'bundle', path: bundle }, ...size, keyPrefix: 'm' }
  const r = await runSoak(`memory soak, ${plan.batches * plan.batchSize} messages`, plan, ['--expose-gc'], env, d)
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
) {
  const dir = join(work, 'profile')
  const { batchSize } = size
  const plan = {
    bridge: { kind: 'source', path: BRIDGE_SOURCE },
    batches: size.batches + 1,
    batchSize,
    checkpointEvery: Number.MAX_SAFE_INTEGER,
    keyPrefix: 'p',
  } as const
  const r = await runSoak(`profile, ${plan.batches * batchSize} messages`, plan, ['--cpu-prof', '--cpu-prof-dir', dir], env, d)
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('node --cpu-prof wrote no profile')
  const kept = join(outDir, `bridge-${batchSize}-qos1.cpuprofile`)
  mkdirSync(dirname(kept), { recursive: true })
  writeFileSync(kept, readFileSync(join(dir, file)))
  const scenario = `${plan.batches} batches of ${batchSize.toLocaleString('en-US')}, QoS 1, MQTT 5, pool 1, sources through tsx; handler time ${Math.round(r.publishMs)} ms`
  return { profile: { ...summarizeProfile(kept), scenario }, counted: r.counted }
}
