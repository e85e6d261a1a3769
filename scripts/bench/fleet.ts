// The fleet store's cost (docs/performance.md, "The fleet store"): batches of 1,000 at QoS 1 through the built
// bridge with FLEET_REDIS_URL against the same batches without it, in one run, alternating, on a local Redis and
// Mosquitto started here (set_tcp_nodelay true, no subscriber: what is measured is the bridge, the broker and
// the store). Also: the round trips to the store per batch (the bridge's own count, and the commands Redis ran),
// Redis's own time per batch, its memory per remembered message, a retried batch recognised by another instance,
// and the cold start with and without the Redis client loaded. `tsx scripts/bench/fleet.ts [--batches N]`
// prints the figures as JSON; runFleetBench() returns them. Independent of the other bench files on purpose.
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Redis from 'ioredis'
import { freePort } from '../free-port.js'
import { buildAll } from '../build.js'

export interface FleetBenchOptions {
  /** Measured batches per variant (after WARM_UP each), alternating. */
  batches?: number
  batchSize?: number
  /** Fresh processes per cold-start figure. */
  coldRuns?: number
}

export interface FleetBenchResult {
  batchSize: number
  batches: number
  /** Median ms per batch (the handler's call: until every message was acknowledged and claims were settled). */
  withoutStoreMs: number
  withStoreMs: number
  /** withStoreMs / withoutStoreMs - 1, in %: the target is at most 10. */
  slowerPercent: number
  /** Per batch with the store: exchanges the bridge counted, and the commands (scripts) Redis ran. */
  roundTripsPerBatch: number
  redisCommandsPerBatch: number
  /** Redis's own time running those commands, per batch (INFO commandstats), µs. */
  redisMicrosPerBatch: number
  /** Redis memory per remembered message (its key, its share of owner records and expiry entries), bytes. */
  bytesPerMessage: number
  /** The same batch handed to another instance: every message a duplicate. Median ms, and round trips. */
  retriedBatchMs: number
  retriedRoundTrips: number
  /** Fresh processes: median ms to require the bundle alone, and the bundle and then the Redis client. */
  coldStart: { bundleMs: number; bundleAndClientMs: number; clientKB: number; runs: number }
}

const WARM_UP = 3
const root = resolve(fileURLToPath(import.meta.url), '../../..')

const RULES = `
defaults: { profile: mqtt, qos: 1 }
rules:
  - id: bench
    source: { regionId: cn-hangzhou, instanceId: MQ_INST_bench, topic: bench, groupId: GID_bench }
    target: { parentTopic: bench }
`

interface BridgeModule {
  handler(event: Buffer, context: unknown): Promise<{ published: number; duplicates: number }>
  shutdown(): Promise<void>
}

/** `n` QoS 1 messages of 256 bytes over 50 topics, message IDs unique to `batch`. */
function batchEvent(batch: string, n: number): Buffer {
  const body = 'x'.repeat(256)
  const events = Array.from({ length: n }, (_, i) => ({
    id: `${batch}-${i}`,
    source: 'bench',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    subject: 'acs:mq:cn-hangzhou:1:MQ_INST_bench%bench',
    time: new Date().toISOString(),
    data: {
      topic: 'bench',
      systemProperties: { UNIQ_KEY: `${batch}-${String(i).padStart(6, '0')}`, INSTANCE_ID: 'MQ_INST_bench' },
      userProperties: { mqttSecondTopic: `/d${i % 50}` },
      body,
    },
  }))
  return Buffer.from(JSON.stringify(events))
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

const program = (name: string) => ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'].map((d) => join(d, name)).find(existsSync) ?? name

async function startServers(work: string) {
  const mqttPort = await freePort()
  const redisPort = await freePort()
  const conf = join(work, 'mosquitto.conf')
  writeFileSync(conf, [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'user root', 'max_queued_messages 0', 'set_tcp_nodelay true', ''].join('\n'))
  const mosquitto = spawn(program('mosquitto'), ['-c', conf], { stdio: 'ignore' })
  const password = `bench-${Math.random().toString(36).slice(2)}`
  const redis = spawn(program('redis-server'), ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password], {
    stdio: 'ignore',
  })
  await Promise.all([waitForPort(mqttPort, mosquitto, 'mosquitto'), waitForPort(redisPort, redis, 'redis-server')])
  return {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    redisPort,
    password,
    stop() {
      mosquitto.kill('SIGKILL')
      redis.kill('SIGKILL')
    },
  }
}

/** A copy of the built bridge, so that each variant is its own module, bridge and pool in this process. */
function loadCopy(dist: string, work: string, name: string, env: Record<string, string>): BridgeModule {
  const dir = join(work, name)
  cpSync(join(dist, 'bridge'), dir, { recursive: true })
  const saved = { ...process.env }
  Object.assign(process.env, env)
  const m = createRequire(import.meta.url)(join(dir, 'index.js')) as BridgeModule
  // The bridge reads the environment on its first call; `prime` makes that call while `env` is in place.
  ;(m as BridgeModule & { prime: () => Promise<void> }).prime = async () => {
    Object.assign(process.env, env)
    try {
      await m.handler(batchEvent(`${name}-prime`, 1), context(`${name}-prime`, []))
    } finally {
      for (const k of Object.keys(env)) delete process.env[k]
      Object.assign(process.env, saved)
    }
  }
  for (const k of Object.keys(env)) delete process.env[k]
  Object.assign(process.env, saved)
  return m
}

function context(requestId: string, lines: string[]) {
  const keep = (line: string) => {
    if (line.includes('"fleet.batch"')) lines.push(line)
  }
  const complain = (line: string) => {
    throw new Error(`the bridge logged a problem: ${line}`)
  }
  return { requestId, function: { timeout: 60 }, logger: { debug: keep, info: () => {}, warn: complain, error: complain } }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

async function commandStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  let calls = 0
  let usec = 0
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)/.exec(line)
    if (m) {
      calls += Number(m[2])
      usec += Number(m[3])
    }
  }
  return { calls, usec }
}

async function coldStart(dist: string, runs: number): Promise<FleetBenchResult['coldStart']> {
  const time = (code: string) =>
    new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
      })
      child.once('exit', (c) => (c === 0 ? done(Number(out.trim())) : fail(new Error(`node -e exited ${c}`))))
    })
  const bundle = JSON.stringify(join(dist, 'bridge', 'index.js'))
  const client = JSON.stringify(join(dist, 'bridge', 'ioredis.js'))
  const alone: number[] = []
  const both: number[] = []
  for (let i = 0; i < runs; i++) {
    alone.push(await time(`const t=process.hrtime.bigint();require(${bundle});console.log(Number(process.hrtime.bigint()-t)/1e6)`))
    both.push(await time(`const t=process.hrtime.bigint();require(${bundle});require(${client});console.log(Number(process.hrtime.bigint()-t)/1e6)`))
  }
  const { statSync } = await import('node:fs')
  return { bundleMs: round(median(alone)), bundleAndClientMs: round(median(both)), clientKB: Math.round(statSync(join(dist, 'bridge', 'ioredis.js')).size / 1024), runs }
}

export async function runFleetBench(options: FleetBenchOptions = {}): Promise<FleetBenchResult> {
  const batches = options.batches ?? 20
  const size = options.batchSize ?? 1000
  const work = mkdtempSync(join(tmpdir(), 'bench-fleet-'))
  const dist = join(work, 'dist')
  const rulesFile = join(work, 'rules.yaml')
  writeFileSync(rulesFile, RULES)
  await buildAll({ rulesFile, outDir: dist, quiet: true })
  const servers = await startServers(work)
  const redis = new Redis({ port: servers.redisPort, host: '127.0.0.1', password: servers.password, lazyConnect: true })
  await redis.connect()
  const common = { MQTT_URL: servers.mqttUrl, MQTT_PROTOCOL_VERSION: '4', DEAD_LETTER_TARGET: `file:${join(work, 'dl')}`, LOG_LEVEL: 'debug' }
  const store = { FLEET_REDIS_URL: servers.redisUrl, FLEET_REDIS_PASSWORD: servers.password }
  const without = loadCopy(dist, work, 'without', common)
  const withStore = loadCopy(dist, work, 'with', { ...common, ...store })
  const other = loadCopy(dist, work, 'other', { ...common, ...store })
  try {
    for (const m of [without, withStore, other]) await (m as BridgeModule & { prime: () => Promise<void> }).prime()
    const times = { without: [] as number[], with: [] as number[], retried: [] as number[] }
    const trips = { with: [] as number[], retried: [] as number[] }
    const redisCalls: number[] = []
    const redisUsec: number[] = []
    const memory = { before: 0, after: 0, messages: 0 }
    const run = async (m: BridgeModule, id: string, event: Buffer, lines: string[]) => {
      const t0 = process.hrtime.bigint()
      const s = await m.handler(event, context(id, lines))
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, summary: s }
    }
    for (let b = 0; b < WARM_UP + batches; b++) {
      const measured = b >= WARM_UP
      const plain = await run(without, `without-${b}`, batchEvent(`without-${b}`, size), [])
      if (plain.summary.published !== size) throw new Error(`without the store: published ${plain.summary.published} of ${size}`)
      const event = batchEvent(`with-${b}`, size)
      const lines: string[] = []
      const before = await commandStats(redis)
      if (b === WARM_UP) memory.before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
      const fleet = await run(withStore, `with-${b}`, event, lines)
      const afterStats = await commandStats(redis)
      if (fleet.summary.published !== size) throw new Error(`with the store: published ${fleet.summary.published} of ${size}`)
      const retryLines: string[] = []
      const retried = await run(other, `retried-${b}`, event, retryLines)
      if (retried.summary.duplicates !== size) throw new Error(`the retried batch: ${retried.summary.duplicates} of ${size} duplicates`)
      if (!measured) continue
      times.without.push(plain.ms)
      times.with.push(fleet.ms)
      times.retried.push(retried.ms)
      trips.with.push(Number(/"roundTrips":(\d+)/.exec(lines[0] ?? '')?.[1]))
      trips.retried.push(Number(/"roundTrips":(\d+)/.exec(retryLines[0] ?? '')?.[1]))
      redisCalls.push(afterStats.calls - before.calls)
      redisUsec.push(afterStats.usec - before.usec)
      memory.messages += size
    }
    memory.after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
    const withoutStoreMs = round(median(times.without))
    const withStoreMs = round(median(times.with))
    return {
      batchSize: size,
      batches,
      withoutStoreMs,
      withStoreMs,
      slowerPercent: round((withStoreMs / withoutStoreMs - 1) * 100),
      roundTripsPerBatch: median(trips.with),
      redisCommandsPerBatch: median(redisCalls),
      redisMicrosPerBatch: median(redisUsec),
      bytesPerMessage: Math.round((memory.after - memory.before) / memory.messages),
      retriedBatchMs: round(median(times.retried)),
      retriedRoundTrips: median(trips.retried),
      coldStart: await coldStart(dist, options.coldRuns ?? 7),
    }
  } finally {
    for (const m of [without, withStore, other]) await m.shutdown()
    redis.disconnect()
    servers.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { batches: { type: 'string' }, 'cold-runs': { type: 'string' } } })
  runFleetBench({
    ...(values.batches ? { batches: Number(values.batches) } : {}),
    ...(values['cold-runs'] ? { coldRuns: Number(values['cold-runs']) } : {}),
  }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err))
      process.exit(1)
    },
  )
}
