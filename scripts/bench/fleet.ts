// The fleet store's cost (docs/performance.md, "The fleet store"): batches of 1,000 at QoS 1 through the built
// bridge with FLEET_REDIS_URL against the same batches without it, in one run, alternating which goes first,
// on a Mosquitto (set_tcp_nodelay true, no subscriber) and a password-protected redis-server started here. Also:
// the store's round trips per batch (the bridge's own count) and the scripts Redis ran, Redis's own time, its
// memory per remembered message (MEMORY USAGE and used_memory), the same batch retried on another instance,
// and the cold start with and without the Redis client. Self-contained on purpose (nothing from the other
// bench files). `tsx scripts/bench/fleet.ts [--batches N] [--cold-runs N]` prints the figures as JSON.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Redis from 'ioredis'
import { buildAll } from '../build.js'

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
  /** Fresh processes: median ms to require the bundle, and then the Redis client after it (what FLEET_REDIS_URL adds). */
  coldStart: { bundleMs: number; clientMs: number; clientKB: number; runs: number }
}

const WARM_UP = 3
const INSTANCE = 'MQ_INST_1234567890123456_Bench'
const RULES = `
defaults: { profile: alibaba, qos: 1 }
rules:
  - id: bench-fleet
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: bench-fleet, groupId: GID_bench_fleet }
    target: { parentTopic: benchfleet, qos: 1 }
`

interface BridgeModule {
  handler(event: Buffer, context: unknown): Promise<{ received: number; published: number; duplicates: number; failed: number }>
  shutdown(): Promise<void>
}

/** `n` QoS 1 messages of 256 bytes over 16 topics, with RocketMQ-like message IDs (32 hex digits) unique to `batch`. */
function batchEvent(batch: number, n: number): Buffer {
  const now = new Date().toISOString()
  const events = Array.from({ length: n }, (_, i) => ({
    id: `${batch}-${i}`,
    source: 'RocketMQ-Function-rocketmq-trigger',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    subject: `acs:mq:cn-hangzhou:1234567890123456:${INSTANCE}%bench-fleet`,
    time: now,
    data: {
      topic: 'bench-fleet',
      systemProperties: {
        UNIQ_KEY: `AC14C305069E1B28CA00${batch.toString(16).padStart(6, '0')}${i.toString(16).padStart(6, '0')}`.toUpperCase(),
        INSTANCE_ID: INSTANCE,
      },
      userProperties: { mqttSecondTopic: `/d${i % 16}` },
      body: `${batch}:${i}:`.padEnd(256, 'x'),
    },
  }))
  return Buffer.from(JSON.stringify(events))
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer()
    srv.once('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => done(port))
    })
  })
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const until = Date.now() + 10_000
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`)
    const open = await new Promise<boolean>((done) => {
      const s = tcpConnect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        done(true)
      })
      s.once('error', () => done(false))
    })
    if (open) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`${what} did not open port ${port}`)
}

const program = (name: string) => ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'].map((d) => join(d, name)).find(existsSync)

/** Why the fleet bench cannot run here, or undefined when it can. */
export function fleetBenchUnavailable(): string | undefined {
  const missing = ['redis-server', 'mosquitto'].filter((p) => program(p) === undefined)
  return missing.length > 0 ? `${missing.join(' and ')} not installed (apt-get install -y redis-server mosquitto)` : undefined
}

async function startServers(work: string) {
  const [mqttPort, redisPort] = [await freePort(), await freePort()]
  const conf = join(work, 'mosquitto.conf')
  writeFileSync(
    conf,
    [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'user root', 'max_queued_messages 0', 'set_tcp_nodelay true', ''].join('\n'),
  )
  const password = `bench-${Math.random().toString(36).slice(2)}`
  const children = [
    spawn(program('mosquitto')!, ['-c', conf], { stdio: 'ignore' }),
    spawn(
      program('redis-server')!,
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password],
      {
        stdio: 'ignore',
      },
    ),
  ]
  const stop = () => {
    for (const c of children) c.kill('SIGKILL')
  }
  try {
    await Promise.all([waitForPort(mqttPort, children[0]!, 'mosquitto'), waitForPort(redisPort, children[1]!, 'redis-server')])
  } catch (err) {
    stop()
    throw err
  }
  return { mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, redisUrl: `redis://127.0.0.1:${redisPort}`, redisPort, password, stop }
}

/** Every variable the bridge reads that a shell might have set: cleared, so only `env` configures a copy. */
const OURS = /^(MQTT_|FLEET_|DUPLICATE_WINDOW$|DEAD_LETTER_|RULES_FILE$|LOG_LEVEL$)/

/**
 * A copy of the built bridge, each its own module, bridge and pool in this process. The bridge reads the
 * environment on its first call, so that call (a one-message batch) is made here with `env` in place.
 */
async function loadCopy(dist: string, work: string, name: string, n: number, env: Record<string, string>): Promise<BridgeModule> {
  const dir = join(work, name)
  cpSync(join(dist, 'bridge'), dir, { recursive: true })
  const saved = { ...process.env }
  for (const k of Object.keys(process.env)) if (OURS.test(k)) delete process.env[k]
  Object.assign(process.env, env)
  try {
    const m = createRequire(import.meta.url)(join(dir, 'index.js')) as BridgeModule
    const s = await m.handler(batchEvent(0xfff000 + n, 1), context(`${name}-first`, [], []))
    if (s.published !== 1) throw new Error(`${name}: the first call published ${s.published} of 1`)
    return m
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}

/** Function Compute's context; keeps the fleet.batch line and every warning or error. */
function context(requestId: string, batchLines: string[], problems: string[]) {
  const keep = (level: string) => (line: string) => {
    if (problems.length < 20) problems.push(`${level} ${line}`)
  }
  return {
    requestId,
    function: { name: 'rocketmq-mqtt-bridge', timeout: 60 },
    logger: {
      debug: (line: string) => {
        if (line.includes('"fleet.batch"')) batchLines.push(line)
      },
      info: () => {},
      warn: keep('warn'),
      error: keep('error'),
    },
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
const roundTripsOf = (lines: string[]) => Number(/"roundTrips":(\d+)/.exec(lines[0] ?? '')?.[1] ?? Number.NaN)

/** Scripts run (EVALSHA, and EVAL when a script was not cached yet) and their µs, from INFO commandstats. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  let calls = 0
  let usec = 0
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1])
    usec += Number(m[2])
  }
  return { calls, usec }
}

const usedMemory = async (redis: Redis) => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])

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

async function coldStart(dist: string, runs: number): Promise<FleetBenchResult['coldStart']> {
  // One process a run: the bundle required, then the Redis client, each timed, so the client's own cost is
  // not the difference of two noisy medians.
  const bundle = JSON.stringify(join(dist, 'bridge', 'index.js'))
  const client = join(dist, 'bridge', 'ioredis.js')
  const code = `const h=()=>Number(process.hrtime.bigint())/1e6;const t0=h();require(${bundle});const t1=h();require(${JSON.stringify(client)});console.log(t1-t0,h()-t1)`
  const bundleMs: number[] = []
  const clientMs: number[] = []
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cold start: node -e exited ${r.status}: ${r.stderr}`)
    const [b, c] = r.stdout.trim().split(' ').map(Number)
    bundleMs.push(b!)
    clientMs.push(c!)
  }
  return { bundleMs: round(median(bundleMs)), clientMs: round(median(clientMs)), clientKB: Math.round(statSync(client).size / 1024), runs }
}

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
  const { values } = parseArgs({ options: { batches: { type: 'string' }, 'cold-runs': { type: 'string' } } })
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
