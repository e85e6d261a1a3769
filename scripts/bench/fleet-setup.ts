// The fleet bench's parts (scripts/bench/fleet.ts): the workload, a Mosquitto and a redis-server on free
// loopback ports, copies of the built bridge each configured by its own environment, Redis's own figures,
// and the cold start. Nothing from the other bench files, on purpose.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import type Redis from 'ioredis'

/** Fresh processes: median ms to require the bundle, and then the Redis client after it (what FLEET_REDIS_URL adds). */
export interface ColdStart {
  bundleMs: number
  clientMs: number
  clientKB: number
  runs: number
}

const INSTANCE = 'MQ_INST_1234567890123456_Bench'
export const RULES = `
defaults: { profile: alibaba, qos: 1 }
rules:
  - id: bench-fleet
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: bench-fleet, groupId: GID_bench_fleet }
    target: { parentTopic: benchfleet, qos: 1 }
`

export interface BridgeModule {
  handler(event: Buffer, context: unknown): Promise<{ received: number; published: number; duplicates: number; failed: number }>
  shutdown(): Promise<void>
}

/** `n` QoS 1 messages of 256 bytes over 16 topics, with RocketMQ-like message IDs (32 hex digits) unique to `batch`. */
export function batchEvent(batch: number, n: number): Buffer {
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

export async function startServers(work: string) {
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
export async function loadCopy(dist: string, work: string, name: string, n: number, env: Record<string, string>): Promise<BridgeModule> {
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
export function context(requestId: string, batchLines: string[], problems: string[]) {
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

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN
export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits
export const roundTripsOf = (lines: string[]) => Number(/"roundTrips":(\d+)/.exec(lines[0] ?? '')?.[1] ?? Number.NaN)

/** Scripts run (EVALSHA, and EVAL when a script was not cached yet) and their µs, from INFO commandstats. */
export async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  let calls = 0
  let usec = 0
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1])
    usec += Number(m[2])
  }
  return { calls, usec }
}

export const usedMemory = async (redis: Redis) => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])

/** Mean MEMORY USAGE of up to `n` keys matching `pattern`. */
export async function meanUsage(redis: Redis, pattern: string, n: number): Promise<number> {
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

export async function coldStart(dist: string, runs: number): Promise<ColdStart> {
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
