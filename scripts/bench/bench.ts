// npm run bench [-- --quick] [--out <file>]: the bridge's speed against the broker vendor's C client
// (mosquitto_pub), a plain MQTT.js loop and the naive connect-per-invocation pattern, on Mosquitto started
// here with its network defaults (Nagle on) and again with set_tcp_nodelay true, and across round trips of
// 0, 2 and 20 ms (a latency proxy), in one run on one machine. It prints tables with each target met or
// missed and writes the figures as JSON (.bench/ by default). It fails only when a message is missing or
// something breaks; speed is reported, never asserted. --quick runs every part small (CI keeps it from rotting).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type BuiltBundles, bridgeEnv, buildBundles, loadBridge } from './bridge.js'
import { type BenchBroker, mosquittoPubInstalled, startBroker } from './broker.js'
import { firstPublish, loadTimes } from './coldstart.js'
import { renderStoreBench, runStoreBench } from './dead-letter-store.js'
import { type Deliveries, ROOT, startDeliveries } from './deliveries.js'
import { renderFleetBench, runFleetSection } from './fleet.js'
import { measureMapping, renderMapping } from './mapping.js'
import type { Measurement } from './measure.js'
import { type NetworkCounts, ROUND_TRIPS_MS, runNetwork, SINGLE_RTT_MS } from './network.js'
import { summarizeProfile } from './profile.js'
import type { BrokerKind, Counted, Results } from './report.js'
import { render } from './report.js'
import { BRIDGE_SOURCE, runSoak } from './soak.js'
import { evaluateTargets, TARGET_RTT_MS } from './targets.js'
import { type Counts, DEFAULT_MATRIX, NO_DELAY_MATRIX, runThroughput } from './throughput.js'

interface Plan extends Counts {
  network: NetworkCounts
  coldRuns: number
  memory: { batches: number; batchSize: number; checkpointEvery: number }
  profile: { batches: number; batchSize: number }
}

const PLANS: Record<'quick' | 'full', Plan> = {
  full: {
    batches: { 1: 2000, 100: 200, 1000: 20, 10000: 3 },
    naiveBatches: { 1: 300, 100: 30, 1000: 6, 10000: 2 },
    mosquittoPubBatches: { 1: 500, 100: 200, 1000: 20, 10000: 3 },
    network: { batch: 1000, batches: 3, singles: 300 },
    coldRuns: 7,
    memory: { batches: 200, batchSize: 1000, checkpointEvery: 10_000 },
    profile: { batches: 5, batchSize: 10_000 },
  },
  quick: {
    batches: { 1: 20, 100: 3, 1000: 2, 10000: 1 },
    naiveBatches: { 1: 10, 100: 2, 1000: 1, 10000: 1 },
    mosquittoPubBatches: { 1: 10, 100: 3, 1000: 2, 10000: 1 },
    network: { batch: 100, batches: 1, singles: 10 },
    coldRuns: 1,
    memory: { batches: 10, batchSize: 100, checkpointEvery: 500 },
    profile: { batches: 1, batchSize: 1000 },
  },
}

/** Both brokers: the same configuration, but for Nagle's algorithm on their sockets. */
const BROKERS: Record<BrokerKind, { extra: string[]; describe: (version: string) => string }> = {
  default: { extra: [], describe: (v) => `Mosquitto ${v} with its network defaults (Nagle on), max_queued_messages 0` },
  'no-delay': { extra: ['set_tcp_nodelay true'], describe: (v) => `Mosquitto ${v} with set_tcp_nodelay true, max_queued_messages 0` },
}

const began = Date.now()
const log = (line: string) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${line}\n`)

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}

const HELP = `usage: npm run bench [-- --quick] [--out <file>]

The bridge's speed on Mosquitto with its network defaults (Nagle on), the same broker with
set_tcp_nodelay true, and across round trips of ${ROUND_TRIPS_MS.join(', ')} ms (a latency proxy), against
mosquitto_pub, a plain MQTT.js loop and the naive connect-per-invocation handler, in one run.

  --quick       every part, small (about a minute); npm test runs it and checks the counts
  --out <file>  where the figures go as JSON (default .bench/bench-<full|quick>.json)
  --help, -h    this text

It fails when a message is missing or something breaks; each target is printed PASS or MISS.
See docs/performance.md.`

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
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP)
    return 0
  }
  const mode = process.argv.includes('--quick') ? 'quick' : 'full'
  const plan = PLANS[mode]
  const out = resolve(argValue('--out') ?? join(ROOT, '.bench', `bench-${mode}.json`))
  const started = Date.now()
  const loadAverageAtStart = loadavg()
  const problems: string[] = []
  const bridgeProblems: string[] = []
  const counted: Counted[] = []
  const count = (scenario: string, c: { sent: number; delivered: number; duplicates?: number }) => {
    counted.push({ scenario, sent: c.sent, delivered: c.delivered, duplicates: c.duplicates ?? 0 })
    if (c.delivered < c.sent) problems.push(`${scenario}: ${c.sent - c.delivered} of ${c.sent} messages never reached the subscriber`)
  }
  if (!mosquittoPubInstalled()) throw new Error('npm run bench needs mosquitto_pub on the PATH: apt-get install -y mosquitto-clients')

  const work = mkdtempSync(join(tmpdir(), 'bench-'))
  const brokers: Partial<Record<BrokerKind, BenchBroker>> = {}
  const subscribers: Partial<Record<BrokerKind, Deliveries>> = {}
  let bridge: ReturnType<typeof loadBridge> | undefined
  try {
    log(`bench (${mode}): building the bundles…`)
    const bundles = await buildBundles(work)
    for (const kind of ['default', 'no-delay'] as const) {
      brokers[kind] = await startBroker(BROKERS[kind].extra)
      subscribers[kind] = await startDeliveries(brokers[kind].url)
    }
    const nagle = brokers.default!
    const deliveries = subscribers.default!
    log(`bench: Mosquitto ${nagle.version} on ${nagle.url} (defaults) and ${brokers['no-delay']!.url} (no-delay); subscribers ready`)
    const deadLetterDir = join(work, 'dead-letters')
    const childEnv = (extra: Record<string, string> = {}) => ({ ...process.env, ...bridgeEnv(nagle.url, 1, 5, deadLetterDir), ...extra })

    // Cold start first, while the machine is quiet.
    log('bench: cold start…')
    const functions = readdirSync(bundles.dir).sort()
    const load = await loadTimes(
      functions,
      bundles.dir,
      ROOT,
      childEnv({ RULES_FILE: bundles.rulesFile }),
      plan.coldRuns,
      bundles.mqttAlone,
    )
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
    const common = { bridge, deadLetterDir, counts: plan, problems, bridgeProblems, count, log }
    const throughput = [
      ...(await runThroughput({ ...common, broker: nagle, brokerKind: 'default', deliveries }, DEFAULT_MATRIX)),
      ...(await runThroughput(
        { ...common, broker: brokers['no-delay']!, brokerKind: 'no-delay', deliveries: subscribers['no-delay']! },
        NO_DELAY_MATRIX,
      )),
    ]
    const network = await runNetwork({
      ...common,
      counts: plan.network,
      brokers: [
        { kind: 'default', broker: nagle, deliveries, rtts: ROUND_TRIPS_MS },
        { kind: 'no-delay', broker: brokers['no-delay']!, deliveries: subscribers['no-delay']!, rtts: [TARGET_RTT_MS] },
      ],
    })
    await bridge.shutdown()
    if (bridgeProblems.length > 0) problems.push(`the bridge logged warnings or errors: ${bridgeProblems.slice(0, 5).join(' | ')}`)

    log('bench: resident memory…')
    const memory = await runMemory(plan, bundles, deliveries, childEnv(), count)
    log('bench: CPU profile…')
    const profile = await runProfile(plan, work, dirname(out), deliveries, childEnv({ RULES_FILE: bundles.rulesFile }), count)
    const deadLetterStore = await runStoreBench(mode, log)
    const fleet = await runFleetSection(mode, log)

    const partial = {
      mode,
      command: `npm run bench${mode === 'quick' ? ' -- --quick' : ''}`,
      brokers: { default: BROKERS.default.describe(nagle.version), 'no-delay': BROKERS['no-delay'].describe(nagle.version) },
      startedAt: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 100) / 10,
      machine: { ...machine(nagle.version), loadAverageAtStart: loadAverageAtStart.map((l) => Math.round(l * 100) / 100) },
      throughput,
      latency: network.rows,
      singles: network.singles,
      coldStart: { load, firstPublish: { bundle: bundleFirst, source: sourceFirst } },
      bundleSizes: bundles.sizes,
      memory,
      profile,
      scenarios: counted,
      problems,
    } satisfies Omit<Results, 'targets' | 'ok'>
    const results: Results = { ...partial, targets: evaluateTargets(partial), ok: problems.length === 0 }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify({ ...results, singleRttMs: SINGLE_RTT_MS, deadLetterStore, mapping, fleet }, null, 2) + '\n')
    console.log(render(results))
    console.log(`\n${renderStoreBench(deadLetterStore)}`)
    console.log(`\n${renderFleetBench(fleet)}`)
    console.log(`\n${renderMapping(mapping)}`)
    console.log(`\nfigures written to ${out}`)
    return results.ok ? 0 : 1
  } finally {
    await bridge?.shutdown().catch(() => {})
    for (const d of Object.values(subscribers)) await d?.stop()
    for (const b of Object.values(brokers)) await b?.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

async function runMemory(
  plan: Plan,
  bundles: BuiltBundles,
  deliveries: Deliveries,
  env: NodeJS.ProcessEnv,
  count: (s: string, c: Measurement | { sent: number; delivered: number; duplicates: number }) => void,
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
