// npm run bench: every figure of docs/performance.md in one run, printed as tables and written as JSON with the
// targets. It fails only when a message is missing or something breaks; speed is reported, never asserted.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type Broker, startMosquitto } from '../mqtt/mosquitto.js'
import { bridgeEnv, buildBundles, loadBridge } from './bridge.js'
import { firstPublish, loadTimes, ROOT } from './coldstart.js'
import { renderStoreBench, runStoreBench } from './dead-letter-store.js'
import { type Deliveries, startDeliveries } from './deliveries.js'
import { renderFleetBench, runFleetSection } from './fleet.js'
import { runLogsBench } from './logs.js'
import { measureMapping, renderMapping } from './mapping.js'
import { type Counted, type Results, render } from './report.js'
import { type BrokerKind, ROUND_TRIPS_MS, runNetwork, runRateLimit, runThroughput, SINGLE_RTT_MS } from './scenarios.js'
import { BRIDGE_SOURCE, memorySoak, profileSoak } from './soak.js'
import { evaluateTargets } from './targets.js'

const PLANS = {
  full: {
    batches: { 1: 2000, 100: 200, 1000: 20, 10000: 3 },
    naiveBatches: { 1: 300, 100: 30, 1000: 6, 10000: 2 },
    mosquittoPubBatches: { 1: 500, 100: 200, 1000: 20, 10000: 3 },
    network: { batch: 1000, batches: 3, singles: 300 },
    rate: { settings: [10, 100, 500, 1000, 2000, 5000, 10_000], seconds: 2 },
    coldRuns: 7,
    memory: { batches: 200, batchSize: 1000, checkpointEvery: 10_000 },
    profile: { batches: 5, batchSize: 10_000 },
    logLines: 1_000_000,
  },
  quick: {
    batches: { 1: 20, 100: 3, 1000: 2, 10000: 1 },
    naiveBatches: { 1: 10, 100: 2, 1000: 1, 10000: 1 },
    mosquittoPubBatches: { 1: 10, 100: 3, 1000: 2, 10000: 1 },
    network: { batch: 100, batches: 1, singles: 10 },
    rate: { settings: [100, 2000, 10_000], seconds: 0.5 },
    coldRuns: 1,
    memory: { batches: 10, batchSize: 100, checkpointEvery: 500 },
    profile: { batches: 1, batchSize: 1000 },
    logLines: 20_000,
  },
}

/** The same configuration (Mosquitto's own max_inflight_messages 20) but for Nagle's algorithm. */
const BROKERS: Record<BrokerKind, { config: string[]; describe: (version: string) => string }> = {
  default: { config: [], describe: (v) => `Mosquitto ${v} with its network defaults (Nagle on), max_queued_messages 0` },
  'no-delay': { config: ['set_tcp_nodelay true'], describe: (v) => `Mosquitto ${v} with set_tcp_nodelay true, max_queued_messages 0` },
}

const began = Date.now()
const log = (line: string) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${line}\n`)

const HELP = `usage: npm run bench [-- --quick] [--out <file>]

The bridge's speed on Mosquitto with its network defaults (Nagle on), the same broker with
set_tcp_nodelay true, and across round trips of ${ROUND_TRIPS_MS.join(', ')} ms (a latency proxy), against
mosquitto_pub, a plain MQTT.js loop and the naive connect-per-invocation handler, in one run; and
npm run logs over a day of a million invocation lines, against wc -l of the same file.

  --quick       every part, small (about a minute); npm test runs it and checks the counts
  --out <file>  where the figures and the targets go as JSON (default .bench/bench-<full|quick>.json)
  --help, -h    this text

It fails when a message is missing or something breaks; each target is printed PASS or MISS.
See docs/performance.md.`

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) return console.log(HELP) ?? 0
  const mode = args.includes('--quick') ? 'quick' : 'full'
  const plan = PLANS[mode]
  const loadAverageAtStart = loadavg().map((l) => Math.round(l * 100) / 100)
  const out = resolve(args.includes('--out') ? args[args.indexOf('--out') + 1]! : join(ROOT, '.bench', `bench-${mode}.json`))
  const problems: string[] = []
  const bridgeProblems: string[] = []
  const scenarios: Counted[] = []
  const count = (scenario: string, c: { sent: number; delivered: number; duplicates?: number }) => {
    scenarios.push({ scenario, sent: c.sent, delivered: c.delivered, duplicates: c.duplicates ?? 0 })
    if (c.delivered < c.sent) problems.push(`${scenario}: ${c.sent - c.delivered} of ${c.sent} messages never reached the subscriber`)
  }
  if (spawnSync('mosquitto_pub', ['--help']).error)
    throw new Error('npm run bench needs mosquitto_pub on the PATH: apt-get install -y mosquitto-clients')

  const work = mkdtempSync(join(tmpdir(), 'bench-'))
  const brokers: Partial<Record<BrokerKind, Broker>> = {}
  const subscribers: Partial<Record<BrokerKind, Deliveries>> = {}
  let bridge: ReturnType<typeof loadBridge> | undefined
  try {
    log(`bench (${mode}): building the bundles…`)
    const bundles = await buildBundles(work)
    for (const kind of ['default', 'no-delay'] as const) {
      brokers[kind] = await startMosquitto({ tls: true, config: BROKERS[kind].config, limits: { maxInflightMessages: 20 } })
      subscribers[kind] = await startDeliveries(brokers[kind].url)
    }
    const [nagle, noDelay] = [brokers.default!, brokers['no-delay']!]
    const deliveries = subscribers.default!
    const version = nagle.version ?? 'unknown'
    log(`bench: Mosquitto ${version} on ${nagle.url} (defaults) and ${noDelay.url} (no-delay); subscribers ready`)
    const deadLetterDir = join(work, 'dead-letters')
    const env = (extra: Record<string, string> = {}) => ({
      ...process.env,
      ...bridgeEnv({ url: nagle.url, pool: 1, version: 5, deadLetterDir }),
      ...extra,
    })
    const withRules = env({ RULES_FILE: bundles.rulesFile })

    // Cold start first, while the machine is quiet.
    log('bench: cold start…')
    const load = await loadTimes(readdirSync(bundles.dir).sort(), bundles.dir, withRules, plan.coldRuns, bundles.mqttAlone)
    const bundleFirst = await firstPublish('bundle', join(bundles.dir, 'bridge', 'index.js'), work, env(), plan.coldRuns, deliveries)
    const sourceFirst = await firstPublish('source', BRIDGE_SOURCE, work, withRules, plan.coldRuns, deliveries)
    count('cold start, bundle', bundleFirst)
    count('cold start, sources', sourceFirst)

    log('bench: mapping, templated routes against mqttSecondTopic…')
    const mapping = measureMapping(mode === 'quick' ? { messages: 1000, rounds: 3 } : undefined)

    bridge = loadBridge(bundles)
    const run = { bridge, deadLetterDir, counts: plan, problems, bridgeProblems, count, log }
    const throughput = [
      ...(await runThroughput(run, nagle, 'default', deliveries)),
      ...(await runThroughput(run, noDelay, 'no-delay', subscribers['no-delay']!)),
    ]
    const rateLimit = await runRateLimit(run, nagle, deliveries)
    const network = await runNetwork(run, [
      { kind: 'default', broker: nagle, deliveries },
      { kind: 'no-delay', broker: noDelay, deliveries: subscribers['no-delay']! },
    ])
    await bridge.shutdown()
    if (bridgeProblems.length > 0) problems.push(`the bridge logged warnings or errors: ${bridgeProblems.slice(0, 5).join(' | ')}`)

    log('bench: resident memory…')
    const memory = await memorySoak(join(bundles.dir, 'bridge', 'index.js'), plan.memory, deliveries, env())
    log('bench: CPU profile…')
    const profile = await profileSoak(plan.profile, work, dirname(out), deliveries, withRules)
    for (const { counted } of [memory, profile]) count(counted.scenario, counted)
    const deadLetterStore = await runStoreBench(mode, log)
    const fleet = await runFleetSection(mode, log)
    const logs = await runLogsBench(plan.logLines, work, log)

    const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
    const partial = {
      mode,
      command: `npm run bench${mode === 'quick' ? ' -- --quick' : ''}`,
      brokers: { default: BROKERS.default.describe(version), 'no-delay': BROKERS['no-delay'].describe(version) },
      startedAt: new Date(began).toISOString(),
      durationS: Math.round((Date.now() - began) / 100) / 10,
      machine: {
        nproc: availableParallelism(),
        cpu,
        node: process.version,
        mosquitto: version,
        os: `Linux ${release()}`,
        loadAverageAtStart,
      },
      throughput,
      rateLimit,
      latency: network.rows,
      singles: network.singles,
      coldStart: { load, firstPublish: { bundle: bundleFirst, source: sourceFirst } },
      bundleSizes: bundles.sizes,
      memory: memory.memory,
      profile: profile.profile,
      logs,
      scenarios,
      problems,
    } satisfies Omit<Results, 'targets' | 'ok'>
    const results: Results = { ...partial, targets: evaluateTargets(partial), ok: problems.length === 0 }
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify({ ...results, singleRttMs: SINGLE_RTT_MS, deadLetterStore, mapping, fleet }, null, 2)}\n`)
    const sections = [render(results), renderStoreBench(deadLetterStore), renderFleetBench(fleet), renderMapping(mapping)]
    console.log(`${sections.join('\n\n')}\n\nfigures and targets written to ${out}`)
    return results.ok ? 0 : 1
  } finally {
    await bridge?.shutdown().catch(() => {})
    for (const d of Object.values(subscribers)) await d?.stop()
    for (const b of Object.values(brokers)) await b?.close()
    rmSync(work, { recursive: true, force: true })
  }
}

try {
  process.exit(await main())
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
}
