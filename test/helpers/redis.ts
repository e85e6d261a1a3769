// A real Redis for the fleet-store tests, thin over the one launcher (scripts/fleet/redis-server.ts): a
// redis-server from Debian on a free loopback port, nothing saved, a password always (the tests check it never
// leaks), optionally TLS only; with the test's own clients and MONITOR.
import { readFileSync } from 'node:fs'
import Redis from 'ioredis'
import { startRedisServer } from '../../scripts/fleet/redis-server.js'
import { requirePrograms } from './requirements.js'

export interface RedisServer {
  port: number
  /** FLEET_REDIS_URL: redis://127.0.0.1:<port>, or rediss:// with `tls`. */
  url: string
  password: string
  /** With `tls`: the CA that signed the server's certificate. */
  caFile?: string
  /** The bridge's environment for this server (FLEET_REDIS_URL, FLEET_REDIS_PASSWORD, and the CA with TLS). */
  env(): Record<string, string>
  /** A client for the test's own checks, closed by stop(). */
  client(): Promise<Redis>
  /** Every command the server runs from now on, as it runs it (MONITOR), until the returned stop(). */
  monitor(): Promise<{ commands: string[][]; stop(): Promise<void> }>
  /** SIGKILL by default: everything in memory is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
}

export interface RedisOptions {
  tls?: boolean
  password?: string
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  requirePrograms('redis')
  const server = await startRedisServer(options)
  const { port, url, password } = server
  const caFile = server.certificates?.caFile
  const clients: Redis[] = []

  const connect = async () => {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(caFile ? { tls: { ca: readFileSync(caFile) } } : {}),
    })
    c.on('error', () => {})
    await c.connect()
    clients.push(c)
    return c
  }

  return {
    port,
    url,
    password,
    ...(caFile ? { caFile } : {}),
    env: () => ({ FLEET_REDIS_URL: url, FLEET_REDIS_PASSWORD: password, ...(caFile ? { FLEET_REDIS_CA_FILE: caFile } : {}) }),
    client: connect,
    async monitor() {
      const c = await connect()
      const m = await c.monitor()
      const commands: string[][] = []
      m.on('monitor', (_time: string, command: string[]) => commands.push(command))
      return {
        commands,
        stop: async () => {
          m.disconnect()
        },
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      for (const c of clients.splice(0)) c.disconnect()
      await server.stop(signal)
    },
    start: () => server.start(),
  }
}
