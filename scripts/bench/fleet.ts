// The fleet store's cost (docs/performance.md, "The fleet store"): the same batches through copies of the built
// bridge with FLEET_REDIS_URL and without, alternating which goes first, on a Mosquitto and a redis-server of its own.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Redis from 'ioredis'
import { messageOf } from '../../shared/errors.js'
import { buildAll } from '../build.js'
import { type RedisProcess, startRedisServer } from '../fleet/redis-server.js'
import { type Broker, findProgram, startMosquitto } from '../mqtt/mosquitto.js'
import { type BridgeModule, fcContext } from './bridge.js'
import { median, medianInterval, round } from './measure.js'
import { cloudEvents, INSTANCE } from './messages.js'
import { table } from './report.js'

/** The figure the fleet store is held to (issue 25): at most this much slower per batch. */
export const TARGET_SLOWER_PERCENT = 10
const WARM_UP = 3

// Its own rule: the rule ID is part of every key the store writes, so its length is part of the memory figures.
const RULES = `
defaults: { profile: alibaba, qos: 1 }
rules:
  - id: bench-fleet
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: bench-fleet, groupId: GID_bench_fleet }
    target: { parentTopic: benchfleet, qos: 1 }
`

/** `n` QoS 1 messages of 256 bytes over 16 topics, with RocketMQ-like message IDs (32 hex digits) unique to `batch`. */
function batchEvent(batch: number, n: number): Buffer {
  const data = Array.from({ length: n }, (_, i) => ({
    topic: 'bench-fleet',
    systemProperties: {
      UNIQ_KEY: `AC14C305069E1B28CA00${batch.toString(16).padStart(6, '0')}${i.toString(16).padStart(6, '0')}`.toUpperCase(),
      INSTANCE_ID: INSTANCE,
    },
    userProperties: { mqttSecondTopic: `/d${i % 16}` },
    body: `${batch}:${i}:`.padEnd(256, 'x'),
  }))
  return cloudEvents(INSTANCE, 'bench-fleet', data, (i) => `${batch}-${i}`)
}

/** Why the fleet bench cannot run here, or undefined when it can. */
export function fleetBenchUnavailable(): string | undefined {
  const missing = ['redis-server', 'mosquitto'].filter((p) => findProgram(p) === undefined)
  return missing.length > 0 ? `${missing.join(' and ')} not installed (apt-get install -y redis-server mosquitto)` : undefined
}

/** Every variable the bridge reads that a shell might have set: cleared, so only `env` configures a copy. */
const OURS = /^(MQTT_|FLEET_|DUPLICATE_WINDOW$|DEAD_LETTER_|RULES_FILE$|LOG_LEVEL$)/

/** A copy of the built bridge (its own module, bridge and pool), whose first call reads `env`: made here, with `env` in place. */
async function loadCopy(dist: string, work: string, name: string, n: number, env: Record<string, string>): Promise<BridgeModule> {
  const dir = join(work, name)
  cpSync(join(dist, 'bridge'), dir, { recursive: true })
  const saved = { ...process.env }
  for (const k of Object.keys(process.env)) if (OURS.test(k)) delete process.env[k]
  Object.assign(process.env, env)
  try {
    const m = createRequire(import.meta.url)(join(dir, 'index.js')) as BridgeModule
    const s = await m.handler(batchEvent(0xfff000 + n, 1), fcContext(`${name}-first`, []))
    if (s.published !== 1) throw new Error(`${name}: the first call published ${s.published} of 1`)
    return m
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}

const usedMemory = async (redis: Redis) => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])

/** Scripts run (EVALSHA, and EVAL when a script was not cached yet) and their µs, from INFO commandstats. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const stats = [...(await redis.info('commandstats')).matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)]
  return { calls: stats.reduce((a, m) => a + Number(m[1]), 0), usec: stats.reduce((a, m) => a + Number(m[2]), 0) }
}

/** Mean MEMORY USAGE of up to `n` keys matching `pattern`. */
async function meanUsage(redis: Redis, pattern: string, n: number): Promise<number> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    keys.push(...found)
    cursor = next
  } while (cursor !== '0' && keys.length < n)
  const sizes = await Promise.all(keys.slice(0, n).map((k) => redis.memory('USAGE', k, 'SAMPLES', '0')))
  return sizes.length > 0 ? Math.round(sizes.reduce((a: number, b) => a + Number(b), 0) / sizes.length) : Number.NaN
}

// One process a run, the bundle and then the Redis client each timed: the client's cost is not the difference of two noisy medians.
function coldStarts(dist: string, runs: number) {
  const client = join(dist, 'bridge', 'ioredis.js')
  const code = `const h=()=>Number(process.hrtime.bigint())/1e6;const t0=h();require(${JSON.stringify(join(dist, 'bridge', 'index.js'))});const t1=h();require(${JSON.stringify(client)});console.log(t1-t0,h()-t1)`
  const bundleMs: number[] = []
  const clientMs: number[] = []
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cold start: node -e exited ${r.status}: ${r.stderr}`)
    const [b, c] = r.stdout.trim().split(' ').map(Number)
    bundleMs.push(b!)
    clientMs.push(c!)
  }
  const clientKB = Math.round(statSync(client).size / 1024)
  return { bundleMs: round(median(bundleMs), 1), clientMs: round(median(clientMs), 1), clientKB, runs }
}

export type FleetBenchResult = Awaited<ReturnType<typeof runFleetBench>>

/**
 * Median ms per batch with the store and without (the handler's call, until every message was acknowledged and, with
 * the store, settled), this process's CPU per batch, the store's round trips (the bridge's count), the scripts Redis
 * ran and its own µs (INFO commandstats), the same batch on another instance (all duplicates), Redis's memory.
 */
export async function runFleetBench(
  options: { batches?: number; batchSize?: number; coldRuns?: number; log?: (line: string) => void } = {},
) {
  const { batches = 40, batchSize: size = 1000, coldRuns = 7, log = () => {} } = options
  const unavailable = fleetBenchUnavailable()
  if (unavailable) throw new Error(`the fleet bench needs ${unavailable}`)
  const work = mkdtempSync(join(tmpdir(), 'bench-fleet-'))
  const copies: BridgeModule[] = []
  let broker: Broker | undefined
  let server: RedisProcess | undefined
  let redis: Redis | undefined
  try {
    const dist = join(work, 'dist')
    writeFileSync(join(work, 'rules.yaml'), RULES)
    await buildAll({ rulesFile: join(work, 'rules.yaml'), outDir: dist, quiet: true })
    log('bench: fleet store, cold start with and without the Redis client…')
    const coldStart = coldStarts(dist, coldRuns)
    // No subscriber; Mosquitto's own window of 20.
    broker = await startMosquitto({ config: ['set_tcp_nodelay true'], limits: { maxInflightMessages: 20 } })
    server = await startRedisServer()
    redis = new Redis({ port: server.port, host: '127.0.0.1', password: server.password, lazyConnect: true, maxRetriesPerRequest: 0 })
    await redis.connect()
    const common = {
      MQTT_URL: broker.url,
      MQTT_PROTOCOL_VERSION: '4',
      DEAD_LETTER_TARGET: `file:${join(work, 'dead-letters')}`,
      LOG_LEVEL: 'debug',
    }
    const store = { ...common, FLEET_REDIS_URL: server.url, FLEET_REDIS_PASSWORD: server.password }
    for (const [name, env] of [
      ['without', common],
      ['with-store', store],
      ['other-instance', store],
    ] as const)
      copies.push(await loadCopy(dist, work, name, copies.length + 1, env))
    const [without, withStore, other] = copies as [BridgeModule, BridgeModule, BridgeModule]

    log(`bench: fleet store, ${batches} batches of ${size} at QoS 1 with and without it, alternating…`)
    const problems: string[] = []
    const run = async (m: BridgeModule, id: string, event: Buffer, published: number) => {
      const lines: string[] = []
      const t0 = process.hrtime.bigint()
      const cpu0 = process.cpuUsage()
      const keep = (line: string) => line.includes('"fleet.batch"') && lines.push(line)
      const summary = await m.handler(event, fcContext(id, problems, keep))
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      const cpu = process.cpuUsage(cpu0)
      if (problems.length > 0) throw new Error(`${id}: the bridge logged ${problems.join(' | ')}`)
      if (summary.published !== published || summary.duplicates !== size - published)
        throw new Error(`${id}: ${summary.published} of ${size} published, ${summary.duplicates} duplicates`)
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000, roundTrips: Number(/"roundTrips":(\d+)/.exec(lines[0] ?? '')?.[1] ?? Number.NaN) }
    }
    const plainTurn = async (b: number) => {
      const r = await run(without, `without-${b}`, batchEvent(2 * b, size), size)
      return { withoutMs: r.ms, withoutCpu: r.cpuMs }
    }
    const storeTurn = async (b: number) => {
      const event = batchEvent(2 * b + 1, size)
      const before = await scriptStats(redis!)
      const r = await run(withStore, `with-${b}`, event, size)
      const after = await scriptStats(redis!)
      // The batch retried on another instance: recognised, none published again.
      const again = await run(other, `retried-${b}`, event, 0)
      const scripts = { scripts: after.calls - before.calls, usec: after.usec - before.usec }
      return { withMs: r.ms, withCpu: r.cpuMs, trips: r.roundTrips, ...scripts, retriedMs: again.ms, retriedTrips: again.roundTrips }
    }
    const rows: Array<Awaited<ReturnType<typeof plainTurn>> & Awaited<ReturnType<typeof storeTurn>>> = []
    let memoryBefore = 0
    for (let b = 1; b <= WARM_UP + batches; b++) {
      if (b === WARM_UP + 1) memoryBefore = await usedMemory(redis)
      // Alternating which goes first, so neither always follows the other's garbage or the broker's backlog.
      const row = b % 2 === 0 ? { ...(await plainTurn(b)), ...(await storeTurn(b)) } : { ...(await storeTurn(b)), ...(await plainTurn(b)) }
      if (b > WARM_UP) rows.push(row)
    }
    const med = (k: keyof (typeof rows)[number], digits = 1) => round(median(rows.map((r) => r[k])), digits)
    const [withoutStoreMs, withStoreMs] = [med('withoutMs'), med('withMs')]
    // Paired: each batch with the store against its neighbour without, so a drift of the machine cancels out.
    const ratios = rows.map((r) => r.withMs / r.withoutMs)
    const percent = (ratio: number) => round((ratio - 1) * 100, 1)
    const slowerPercent = percent(median(ratios))
    // How sure that figure is: the pairs scatter by several percent on a shared machine.
    const slowerInterval = medianInterval(ratios).map(percent) as [number, number]
    const signed = (p: number) => `${p >= 0 ? '+' : ''}${p}`
    const [low, high] = slowerInterval
    const interval = Number.isNaN(low) ? 'too few pairs for a 95 % interval' : `95 % interval ${signed(low)}…${signed(high)} %`
    return {
      batchSize: size,
      batches,
      withoutStoreMs,
      withStoreMs,
      slowerPercent,
      slowerInterval,
      target: {
        target: `batch of ${size} at QoS 1 with the fleet store ≤ ${TARGET_SLOWER_PERCENT} % slower`,
        measured: `${withStoreMs} ms vs ${withoutStoreMs} ms (median of pairs ${signed(slowerPercent)} %, ${interval})`,
        status: slowerPercent <= TARGET_SLOWER_PERCENT ? 'PASS' : 'MISS',
      },
      bridgeCpuMs: { without: med('withoutCpu'), with: med('withCpu') },
      roundTripsPerBatch: med('trips', 0),
      scriptsPerBatch: med('scripts', 0),
      redisMicrosPerBatch: med('usec', 0),
      retried: { ms: med('retriedMs'), roundTrips: med('retriedTrips', 0) },
      memory: {
        keyBytes: await meanUsage(redis, 'rmqb:m:*', 200),
        ownerBytes: await meanUsage(redis, 'rmqb:o:*', 20),
        usedPerMessage: Math.round(((await usedMemory(redis)) - memoryBefore) / (batches * size)),
      },
      coldStart,
    }
  } finally {
    for (const m of copies) await m.shutdown().catch(() => {})
    redis?.disconnect()
    await server?.stop()
    await broker?.close()
    rmSync(work, { recursive: true, force: true })
  }
}

export function renderFleetBench(r: FleetBenchResult | { skipped: string }): string {
  if ('skipped' in r) return `## Fleet store\n\nskipped: ${r.skipped}`
  const c = r.coldStart
  const header =
    'without the store|with it|slower (median of pairs)|bridge CPU without / with|round trips / batch|scripts / batch|Redis µs / batch|'
  const cells = [r.withoutStoreMs, r.withStoreMs, `${r.slowerPercent} %`, `${r.bridgeCpuMs.without} / ${r.bridgeCpuMs.with} ms`]
  cells.push(r.roundTripsPerBatch, r.scriptsPerBatch, r.redisMicrosPerBatch, `${r.retried.ms} ms, ${r.retried.roundTrips} round trips`)
  return [
    `## Fleet store: ${r.batches} batches of ${r.batchSize.toLocaleString('en-US')} at QoS 1 each way, alternating (median ms per batch)`,
    '',
    table(`${header}retried elsewhere (all duplicates)`, [cells]),
    '',
    `${r.target.status}  ${r.target.target}: ${r.target.measured}`,
    `memory per message remembered: ${r.memory.usedPerMessage} B of used_memory (MEMORY USAGE: key ${r.memory.keyBytes} B, owner record ${r.memory.ownerBytes} B per chunk)`,
    `cold start (require, median of ${c.runs}): the bundle ${c.bundleMs} ms, then the Redis client (${c.clientKB} KB) ${c.clientMs} ms more`,
  ].join('\n')
}

/** For npm run bench: small in --quick, skipped (and said so) where redis-server or Mosquitto is missing. */
export async function runFleetSection(
  mode: 'quick' | 'full',
  log: (line: string) => void,
): Promise<FleetBenchResult | { skipped: string }> {
  const unavailable = fleetBenchUnavailable()
  if (unavailable) return { skipped: unavailable }
  return runFleetBench(mode === 'quick' ? { batches: 2, coldRuns: 1, log } : { log })
}

const HELP = `usage: npx tsx scripts/bench/fleet.ts [--batches N] [--cold-runs N]

Batches of 1,000 at QoS 1 through the built bridge with the fleet store (FLEET_REDIS_URL) and without it,
alternating, on a redis-server and a Mosquitto started here; prints the figures as JSON on stdout and a table
on stderr. npm run bench runs it too. See docs/performance.md, "The fleet store".

  --batches N     measured batches each way, after 3 warm-ups (default 40)
  --cold-runs N   fresh processes for the cold-start figures (default 7)
  -h, --help      this text`

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = { batches: { type: 'string' }, 'cold-runs': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const
  const parsed = (() => {
    try {
      return parseArgs({ options }).values
    } catch (err) {
      console.error(`${messageOf(err)}; see --help`)
      process.exit(2)
    }
  })()
  if (parsed.help) console.log(HELP)
  else
    try {
      const r = await runFleetBench({
        ...(parsed.batches ? { batches: Number(parsed.batches) } : {}),
        ...(parsed['cold-runs'] ? { coldRuns: Number(parsed['cold-runs']) } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      })
      console.log(JSON.stringify(r, null, 2))
      console.error(renderFleetBench(r))
    } catch (err) {
      console.error(messageOf(err))
      process.exit(1)
    }
}
