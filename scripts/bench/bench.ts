// npm run bench [-- --quick] [--out <file>] [--broker-nagle]: the bridge's speed against the broker vendor's C client
// (mosquitto_pub), a plain MQTT.js loop and the naive connect-per-invocation pattern, all on one
// Mosquitto started here, in one run on one machine. It prints tables with each target met or missed and
// writes the figures as JSON (.bench/ by default). It fails only when a message is missing or something
// breaks; speed is reported, never asserted. --quick runs every part small (CI keeps it from rotting).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { messageOf } from '../../shared/errors.js'
import { type BridgeModule, type BuiltBundles, bridgeEnv, buildBundles, loadBridge, openBridge } from './bridge.js'
import { type BenchBroker, mosquittoPubInstalled, startBroker } from './broker.js'
import { firstPublish, loadTimes } from './coldstart.js'
import { renderStoreBench, runStoreBench } from './dead-letter-store.js'
import { type Deliveries, ROOT, startDeliveries } from './deliveries.js'
import { measureMapping, renderMapping } from './mapping.js'
import { type Measurement, measure } from './measure.js'
import type { BenchQos } from './messages.js'
import { summarizeProfile } from './profile.js'
import type { Protocol, Publisher, ScenarioShape } from './publishers.js'
import { mosquittoPub, naive, plainLoop } from './references.js'
import { type Counted, evaluateTargets, type Results, ratio, render, type ThroughputRow } from './report.js'
import { BRIDGE_SOURCE, runSoak } from './soak.js'

type Batch = 1 | 100 | 1000 | 10000

interface Plan {
  /** Measured batches per scenario (after the warm-up). */
  batches: Record<Batch, number>
  naiveBatches: Record<Batch, number>
  mosquittoPubBatches: Record<Batch, number>
  coldRuns: number
  memory: { batches: number; batchSize: number; checkpointEvery: number }
  profile: { batches: number; batchSize: number }
}

const PLANS: Record<'quick' | 'full', Plan> = {
  full: {
    batches: { 1: 2000, 100: 200, 1000: 20, 10000: 3 },
    naiveBatches: { 1: 300, 100: 30, 1000: 6, 10000: 2 },
    mosquittoPubBatches: { 1: 500, 100: 200, 1000: 20, 10000: 3 },
    coldRuns: 7,
    memory: { batches: 200, batchSize: 1000, checkpointEvery: 10_000 },
    profile: { batches: 5, batchSize: 10_000 },
  },
  quick: {
    batches: { 1: 20, 100: 3, 1000: 2, 10000: 1 },
    naiveBatches: { 1: 10, 100: 2, 1000: 1, 10000: 1 },
    mosquittoPubBatches: { 1: 10, 100: 3, 1000: 2, 10000: 1 },
    coldRuns: 1,
    memory: { batches: 10, batchSize: 100, checkpointEvery: 500 },
    profile: { batches: 1, batchSize: 1000 },
  },
}

const BATCHES: Batch[] = [1, 100, 1000, 10000]
const QOS: BenchQos[] = [0, 1]
const VERSIONS: Protocol[] = [5, 4]
const POOLS = [1, 4]
/**
 * Transports the scenarios run over. TLS (certificate verified, as production brokers are reached) runs
 * the single-message scenarios, where a connection per invocation costs most.
 */
const TRANSPORTS = (broker: BenchBroker): Array<{ name: 'tcp' | 'tls'; url: string; caFile?: string; batches: Batch[] }> => [
  { name: 'tcp', url: broker.url, batches: BATCHES },
  { name: 'tls', url: broker.tlsUrl, caFile: broker.caFile, batches: [1] },
]

const log = (line: string) => process.stderr.write(`${line}\n`)

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}

function machine(mosquitto: string): Results['machine'] {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  return {
    nproc: availableParallelism(),
    cpu,
    node: process.version,
    mosquitto,
    os: `Linux ${release()}`,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

async function main(): Promise<number> {
  const mode = process.argv.includes('--quick') ? 'quick' : 'full'
  // Mosquitto's default leaves Nagle on for its sockets: then every MQTT.js batch that waits for its
  // last PUBACK stalls about 40 ms (a kernel timer, not the code under test). Measured with it off
  // unless --broker-nagle (docs/performance.md).
  const nagle = process.argv.includes('--broker-nagle')
  const plan = PLANS[mode]
  const out = resolve(argValue('--out') ?? join(ROOT, '.bench', `bench-${mode}.json`))
  const started = Date.now()
  const problems: string[] = []
  const counted: Counted[] = []
  const count = (scenario: string, c: { sent: number; delivered: number; duplicates?: number }) => {
    counted.push({ scenario, sent: c.sent, delivered: c.delivered, duplicates: c.duplicates ?? 0 })
    if (c.delivered < c.sent) problems.push(`${scenario}: ${c.sent - c.delivered} of ${c.sent} messages never reached the subscriber`)
  }
  if (!mosquittoPubInstalled()) throw new Error('npm run bench needs mosquitto_pub on the PATH: apt-get install -y mosquitto-clients')

  const work = mkdtempSync(join(tmpdir(), 'bench-'))
  let broker: BenchBroker | undefined
  let deliveries: Deliveries | undefined
  let bridge: BridgeModule | undefined
  try {
    log(`bench (${mode}): building the bundles…`)
    const bundles = await buildBundles(work)
    broker = await startBroker(nagle ? [] : ['set_tcp_nodelay true'])
    deliveries = await startDeliveries(broker.url)
    log(`bench: Mosquitto ${broker.version} on ${broker.url}; subscriber ready`)
    const deadLetterDir = join(work, 'dead-letters')
    const childEnv = (extra: Record<string, string> = {}) => ({ ...process.env, ...bridgeEnv(broker!.url, 1, 5, deadLetterDir), ...extra })

    // Cold start first, while the machine is quiet.
    log('bench: cold start…')
    const functions = readdirSync(bundles.dir).sort()
    const load = await loadTimes(functions, bundles.dir, ROOT, childEnv({ RULES_FILE: bundles.rulesFile }), plan.coldRuns)
    const bundleFirst = await firstPublish(
      'bundle',
      join(bundles.dir, 'bridge', 'index.js'),
      work,
      ROOT,
      childEnv(),
      plan.coldRuns,
      deliveries,
    )
    const sourceFirst = await firstPublish(
      'source',
      BRIDGE_SOURCE(ROOT),
      work,
      ROOT,
      childEnv({ RULES_FILE: bundles.rulesFile }),
      plan.coldRuns,
      deliveries,
    )
    count('cold start, bundle', bundleFirst)
    count('cold start, sources', sourceFirst)

    // In process, no broker: the per-message cost of templated routes against mqttSecondTopic.
    log('bench: mapping, templated routes against mqttSecondTopic…')
    const mapping = measureMapping(mode === 'quick' ? { messages: 1000, rounds: 3 } : undefined)

    bridge = loadBridge(bundles)
    const throughput = await runThroughput(plan, bridge, broker, deliveries, deadLetterDir, problems, count)

    log('bench: resident memory…')
    const memory = await runMemory(plan, bundles, deliveries, childEnv(), count)
    log('bench: CPU profile…')
    const profile = await runProfile(plan, work, dirname(out), deliveries, childEnv({ RULES_FILE: bundles.rulesFile }), count)
    const deadLetterStore = await runStoreBench(mode, log)

    const partial = {
      mode,
      command: `npm run bench${mode === 'quick' || nagle ? ' --' : ''}${mode === 'quick' ? ' --quick' : ''}${nagle ? ' --broker-nagle' : ''}`,
      broker: `Mosquitto ${broker.version}, max_queued_messages 0, ${nagle ? 'Nagle on (Mosquitto default)' : 'set_tcp_nodelay true'}`,
      startedAt: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 100) / 10,
      machine: machine(broker.version),
      throughput,
      coldStart: { load, firstPublish: { bundle: bundleFirst, source: sourceFirst } },
      bundleSizes: bundles.sizes,
      memory,
      profile,
      scenarios: counted,
      problems,
    } satisfies Omit<Results, 'targets' | 'ok'>
    const results: Results = { ...partial, targets: evaluateTargets(partial), ok: problems.length === 0 }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify({ ...results, deadLetterStore, mapping }, null, 2) + '\n')
    console.log(render(results))
    console.log(`\n${renderStoreBench(deadLetterStore)}`)
    console.log(`\n${renderMapping(mapping)}`)
    console.log(`\nfigures written to ${out}`)
    return results.ok ? 0 : 1
  } finally {
    await bridge?.shutdown().catch(() => {})
    await deliveries?.stop()
    await broker?.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

async function runThroughput(
  plan: Plan,
  bridge: BridgeModule,
  broker: BenchBroker,
  deliveries: Deliveries,
  deadLetterDir: string,
  problems: string[],
  count: (s: string, c: Measurement) => void,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = []
  const bridgeProblems: string[] = []
  for (const transport of TRANSPORTS(broker)) {
    for (const version of VERSIONS) {
      for (const qos of QOS) {
        for (const batch of transport.batches) {
          const shape: ScenarioShape = { url: transport.url, qos, version, ...(transport.caFile ? { caFile: transport.caFile } : {}) }
          const label = (who: string) =>
            `${who}, batch ${batch}, QoS ${qos}, MQTT ${version === 5 ? '5' : '3.1.1'}${transport.name === 'tcp' ? '' : `, ${transport.name}`}`
          const warmup = batch === 1 ? 20 : 1
          const run = async (
            who: string,
            open: () => Publisher | Promise<Publisher>,
            batches: number,
          ): Promise<Measurement | undefined> => {
            let publisher: Publisher | undefined
            try {
              publisher = await open()
              const m = await measure(publisher, deliveries, batch, batches, warmup)
              count(label(who), m)
              return m
            } catch (err) {
              problems.push(`${label(who)}: ${messageOf(err)}`)
              return undefined
            } finally {
              await publisher?.close().catch((err) => problems.push(`${label(who)}: close: ${String(err)}`))
            }
          }
          log(`bench: ${label('throughput')}…`)
          const mosquittoPubM = await run('mosquitto_pub', () => mosquittoPub(shape), plan.mosquittoPubBatches[batch])
          const plainM = await run('MQTT.js loop', () => plainLoop(shape), plan.batches[batch])
          const naiveM = await run('naive', () => naive(shape), plan.naiveBatches[batch])
          for (const pool of POOLS) {
            const b = await run(
              `bridge pool ${pool}`,
              () => openBridge(bridge, { ...shape, pool, deadLetterDir }, bridgeProblems),
              plan.batches[batch],
            )
            rows.push({
              transport: transport.name,
              batch,
              qos,
              version,
              pool,
              ...(b ? { bridge: b } : {}),
              ...(mosquittoPubM ? { mosquittoPub: mosquittoPubM } : {}),
              ...(plainM ? { plain: plainM } : {}),
              ...(naiveM ? { naive: naiveM } : {}),
              ratios: { mosquittoPub: ratio(b, mosquittoPubM), plain: ratio(b, plainM), naive: ratio(b, naiveM) },
            })
          }
        }
      }
    }
  }
  await bridge.shutdown()
  if (bridgeProblems.length > 0) problems.push(`the bridge logged warnings or errors: ${bridgeProblems.slice(0, 5).join(' | ')}`)
  return rows
}

async function runMemory(
  plan: Plan,
  bundles: BuiltBundles,
  deliveries: Deliveries,
  env: NodeJS.ProcessEnv,
  count: (s: string, c: { sent: number; delivered: number; duplicates: number }) => void,
): Promise<Results['memory']> {
  const { batches, batchSize, checkpointEvery } = plan.memory
  const r = await runSoak(
    {
      bridge: { kind: 'bundle', path: join(bundles.dir, 'bridge', 'index.js') },
      batches,
      batchSize,
      qos: 1,
      checkpointEvery,
      keyPrefix: 'm',
    },
    ['--expose-gc'],
    env,
    deliveries,
    ROOT,
    600_000,
  )
  const sent = batches * batchSize
  const delivered = r.deliveries.reduce((a, d) => a + d.delivered, 0)
  count(`memory soak, ${sent} messages`, { sent, delivered, duplicates: r.deliveries.reduce((a, d) => a + d.total - d.delivered, 0) })
  const first = r.samples[0]
  const last = r.samples[r.samples.length - 1]
  if (!first || !last) throw new Error('the memory soak reported no RSS samples')
  return {
    samples: r.samples,
    gcExposed: r.gcExposed,
    firstMb: first.rssMb,
    lastMb: last.rssMb,
    growthMb: Math.round((last.rssMb - first.rssMb) * 10) / 10,
    firstAt: first.messages,
    lastAt: last.messages,
  }
}

async function runProfile(
  plan: Plan,
  work: string,
  outDir: string,
  deliveries: Deliveries,
  env: NodeJS.ProcessEnv,
  count: (s: string, c: { sent: number; delivered: number; duplicates: number }) => void,
): Promise<Results['profile']> {
  const { batches, batchSize } = plan.profile
  const dir = join(work, 'profile')
  const r = await runSoak(
    {
      bridge: { kind: 'source', path: BRIDGE_SOURCE(ROOT) },
      batches: batches + 1,
      batchSize,
      qos: 1,
      checkpointEvery: Number.MAX_SAFE_INTEGER,
      keyPrefix: 'p',
    },
    ['--cpu-prof', '--cpu-prof-dir', dir],
    env,
    deliveries,
    ROOT,
    600_000,
  )
  const sent = (batches + 1) * batchSize
  count(`profile, ${sent} messages`, {
    sent,
    delivered: r.deliveries.reduce((a, d) => a + d.delivered, 0),
    duplicates: r.deliveries.reduce((a, d) => a + d.total - d.delivered, 0),
  })
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('node --cpu-prof wrote no profile')
  // Keep the profile beside the figures (git-ignored), for a look in Chrome DevTools.
  const kept = join(outDir, `bridge-${batchSize}-qos1.cpuprofile`)
  mkdirSync(dirname(kept), { recursive: true })
  writeFileSync(kept, readFileSync(join(dir, file)))
  return {
    ...summarizeProfile(kept),
    scenario: `${batches + 1} batches of ${batchSize.toLocaleString('en-US')}, QoS 1, MQTT 5, pool 1, sources through tsx; handler time ${Math.round(r.publishMs)} ms`,
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exit(1)
  },
)
