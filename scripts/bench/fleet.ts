// The fleet store's cost (docs/performance.md, "The fleet store"): batches of 1,000 at QoS 1 through the built
// bridge with FLEET_REDIS_URL against the same batches without it, in one run, alternating which goes first,
// on a Mosquitto (set_tcp_nodelay true, no subscriber) and a password-protected redis-server started here. Also:
// the store's round trips per batch (the bridge's own count) and the scripts Redis ran, Redis's own time, its
// memory per remembered message (MEMORY USAGE and used_memory), the same batch retried on another instance,
// and the cold start with and without the Redis client. Self-contained on purpose: nothing from the other
// bench files (its parts are in fleet-setup.ts). `npx tsx scripts/bench/fleet.ts --help` says how to run it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Redis from 'ioredis'
import { buildAll } from '../build.js'
import {
  type BridgeModule,
  batchEvent,
  type ColdStart,
  coldStart,
  context,
  fleetBenchUnavailable,
  loadCopy,
  meanUsage,
  median,
  RULES,
  round,
  roundTripsOf,
  scriptStats,
  startServers,
  usedMemory,
} from './fleet-setup.js'

/** The figure the fleet store is held to (issue 25): at most this much slower per batch. */
export const TARGET_SLOWER_PERCENT = 10

export interface FleetBenchOptions {
  /** Measured batches per variant (after WARM_UP each). */
  batches?: number
  batchSize?: number
  /** Fresh processes per cold-start figure. */
  coldRuns?: number
  log?: (line: string) => void
}

export interface FleetBenchResult {
  batchSize: number
  batches: number
  /** Median ms per batch: the handler's call, until every message was acknowledged (and, with the store, settled). */
  withoutStoreMs: number
  withStoreMs: number
  /** withStoreMs / withoutStoreMs - 1, in %. */
  slowerPercent: number
  target: { target: string; measured: string; status: 'PASS' | 'MISS' }
  /** The bridge's own CPU per batch (this process: user + system), median ms: what the client side costs. */
  bridgeCpuMs: { without: number; with: number }
  /** Per batch with the store: exchanges with it (pipelines, the bridge's count), and the scripts Redis ran. */
  roundTripsPerBatch: number
  scriptsPerBatch: number
  /** Redis's own time running them, per batch (INFO commandstats), µs. */
  redisMicrosPerBatch: number
  /** The same batch handed to another instance: every message a duplicate, none published. */
  retried: { ms: number; roundTrips: number }
  memory: {
    /** MEMORY USAGE of one message key, mean of a sample. */
    keyBytes: number
    /** MEMORY USAGE of one owner record (one per chunk of a batch), mean. */
    ownerBytes: number
    /** used_memory grown per message remembered (key, owner share, expiry entry, hash table). */
    usedPerMessage: number
  }
  coldStart: ColdStart
}

const WARM_UP = 3
export async function runFleetBench(options: FleetBenchOptions = {}): Promise<FleetBenchResult> {
  const batches = options.batches ?? 20
  const size = options.batchSize ?? 1000
  const log = options.log ?? (() => {})
  const unavailable = fleetBenchUnavailable()
  if (unavailable) throw new Error(`the fleet bench needs ${unavailable}`)
  const work = mkdtempSync(join(tmpdir(), 'bench-fleet-'))
  const copies: BridgeModule[] = []
  let servers: Awaited<ReturnType<typeof startServers>> | undefined
  let redis: Redis | undefined
  try {
    const dist = join(work, 'dist')
    writeFileSync(join(work, 'rules.yaml'), RULES)
    await buildAll({ rulesFile: join(work, 'rules.yaml'), outDir: dist, quiet: true })
    // Cold start first, while nothing else runs.
    log('bench: fleet store, cold start with and without the Redis client…')
    const cold = await coldStart(dist, options.coldRuns ?? 7)
    servers = await startServers(work)
    redis = new Redis({
      port: servers.redisPort,
      host: '127.0.0.1',
      password: servers.password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    })
    await redis.connect()
    const common = {
      MQTT_URL: servers.mqttUrl,
      MQTT_PROTOCOL_VERSION: '4',
      DEAD_LETTER_TARGET: `file:${join(work, 'dead-letters')}`,
      LOG_LEVEL: 'debug',
    }
    const store = { FLEET_REDIS_URL: servers.redisUrl, FLEET_REDIS_PASSWORD: servers.password }
    const without = await loadCopy(dist, work, 'without', 1, common)
    copies.push(without)
    const withStore = await loadCopy(dist, work, 'with-store', 2, { ...common, ...store })
    copies.push(withStore)
    const other = await loadCopy(dist, work, 'other-instance', 3, { ...common, ...store })
    copies.push(other)

    log(`bench: fleet store, ${batches} batches of ${size} at QoS 1 with and without it, alternating…`)
    const problems: string[] = []
    const run = async (m: BridgeModule, id: string, event: Buffer, lines: string[]) => {
      const t0 = process.hrtime.bigint()
      const cpu0 = process.cpuUsage()
      const summary = await m.handler(event, context(id, lines, problems))
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      const cpu = process.cpuUsage(cpu0)
      const cpuMs = (cpu.user + cpu.system) / 1000
      if (problems.length > 0) throw new Error(`${id}: the bridge logged ${problems.join(' | ')}`)
      return { ms, cpuMs, summary }
    }
    const ms = { without: [] as number[], with: [] as number[], retried: [] as number[] }
    const cpu = { without: [] as number[], with: [] as number[] }
    const trips = { with: [] as number[], retried: [] as number[] }
    const scripts: number[] = []
    const usec: number[] = []
    let memoryBefore = 0
    for (let b = 1; b <= WARM_UP + batches; b++) {
      const measured = b > WARM_UP
      if (b === WARM_UP + 1) memoryBefore = await usedMemory(redis)
      const plainTurn = async () => {
        const r = await run(without, `without-${b}`, batchEvent(2 * b, size), [])
        if (r.summary.published !== size) throw new Error(`without the store: published ${r.summary.published} of ${size}`)
        if (!measured) return
        ms.without.push(r.ms)
        cpu.without.push(r.cpuMs)
      }
      const storeTurn = async () => {
        const event = batchEvent(2 * b + 1, size)
        const lines: string[] = []
        const before = await scriptStats(redis!)
        const r = await run(withStore, `with-${b}`, event, lines)
        const after = await scriptStats(redis!)
        if (r.summary.published !== size) throw new Error(`with the store: published ${r.summary.published} of ${size}`)
        // The batch retried on another instance: recognised, none published again.
        const retryLines: string[] = []
        const again = await run(other, `retried-${b}`, event, retryLines)
        if (again.summary.duplicates !== size || again.summary.published !== 0)
          throw new Error(`the retried batch: ${again.summary.duplicates} of ${size} duplicates, ${again.summary.published} published`)
        if (!measured) return
        ms.with.push(r.ms)
        cpu.with.push(r.cpuMs)
        trips.with.push(roundTripsOf(lines))
        scripts.push(after.calls - before.calls)
        usec.push(after.usec - before.usec)
        ms.retried.push(again.ms)
        trips.retried.push(roundTripsOf(retryLines))
      }
      // Alternating which goes first, so neither always follows the other's garbage or the broker's backlog.
      if (b % 2 === 0) {
        await plainTurn()
        await storeTurn()
      } else {
        await storeTurn()
        await plainTurn()
      }
    }
    const remembered = batches * size
    const memory = {
      keyBytes: await meanUsage(redis, 'rmqb:m:*', 200),
      ownerBytes: await meanUsage(redis, 'rmqb:o:*', 20),
      usedPerMessage: Math.round(((await usedMemory(redis)) - memoryBefore) / remembered),
    }
    const withoutStoreMs = round(median(ms.without))
    const withStoreMs = round(median(ms.with))
    const slowerPercent = round((withStoreMs / withoutStoreMs - 1) * 100)
    return {
      batchSize: size,
      batches,
      withoutStoreMs,
      withStoreMs,
      slowerPercent,
      target: {
        target: `batch of ${size} at QoS 1 with the fleet store ≤ ${TARGET_SLOWER_PERCENT} % slower`,
        measured: `${withStoreMs} ms vs ${withoutStoreMs} ms (${slowerPercent >= 0 ? '+' : ''}${slowerPercent} %)`,
        status: slowerPercent <= TARGET_SLOWER_PERCENT ? 'PASS' : 'MISS',
      },
      bridgeCpuMs: { without: round(median(cpu.without)), with: round(median(cpu.with)) },
      roundTripsPerBatch: median(trips.with),
      scriptsPerBatch: median(scripts),
      redisMicrosPerBatch: median(usec),
      retried: { ms: round(median(ms.retried)), roundTrips: median(trips.retried) },
      memory,
      coldStart: cold,
    }
  } finally {
    for (const m of copies) await m.shutdown().catch(() => {})
    redis?.disconnect()
    servers?.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

export function renderFleetBench(r: FleetBenchResult | { skipped: string }): string {
  if ('skipped' in r) return `## Fleet store\n\nskipped: ${r.skipped}`
  const c = r.coldStart
  return [
    `## Fleet store: ${r.batches} batches of ${r.batchSize.toLocaleString('en-US')} at QoS 1 each way, alternating (median ms per batch)`,
    '',
    '| without the store | with it | slower | bridge CPU without / with | round trips / batch | scripts / batch | Redis µs / batch | retried elsewhere (all duplicates) |',
    '|---|---|---|---|---|---|---|---|',
    `| ${r.withoutStoreMs} | ${r.withStoreMs} | ${r.slowerPercent} % | ${r.bridgeCpuMs.without} / ${r.bridgeCpuMs.with} ms | ${r.roundTripsPerBatch} | ${r.scriptsPerBatch} | ${r.redisMicrosPerBatch} | ${r.retried.ms} ms, ${r.retried.roundTrips} round trips |`,
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

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let values: { batches?: string; 'cold-runs'?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      options: { batches: { type: 'string' }, 'cold-runs': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }))
  } catch (err) {
    console.error(`${(err as Error).message}; see --help`)
    process.exit(2)
  }
  if (values.help) {
    console.log(`usage: npx tsx scripts/bench/fleet.ts [--batches N] [--cold-runs N]

Batches of 1,000 at QoS 1 through the built bridge with the fleet store (FLEET_REDIS_URL) and without it,
alternating, on a redis-server and a Mosquitto started here; prints the figures as JSON on stdout and a table
on stderr. npm run bench runs it too. See docs/performance.md, "The fleet store".

  --batches N     measured batches each way, after 3 warm-ups (default 20)
  --cold-runs N   fresh processes for the cold-start figures (default 7)
  -h, --help      this text`)
    process.exit(0)
  }
  runFleetBench({
    ...(values.batches ? { batches: Number(values.batches) } : {}),
    ...(values['cold-runs'] ? { coldRuns: Number(values['cold-runs']) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  }).then(
    (r) => {
      console.log(JSON.stringify(r, null, 2))
      console.error(renderFleetBench(r))
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err))
      process.exit(1)
    },
  )
}
