// A real Redis for the fleet-store tests: redis-server from Debian on a free loopback port, nothing saved, a
// password always (the tests check it never leaks), optionally TLS only. It starts in well under a second;
// "Ready to accept connections" on its stdout says when.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Redis from 'ioredis'
import { freePort } from './ports.js'
import { findProgram, requirePrograms } from './requirements.js'
import { makeCertificates } from './tls.js'

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
  const program = findProgram('redis-server')!
  const port = await freePort()
  const password = options.password ?? `fleet-${randomBytes(12).toString('hex')}`
  const certs = options.tls ? makeCertificates() : undefined
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password, '--daemonize', 'no']
  if (certs) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile)
    args.push('--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'no')
  } else args.push('--port', String(port))
  const url = `${certs ? 'rediss' : 'redis'}://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  const clients: Redis[] = []

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      child = p
      let out = ''
      const onData = (d: Buffer) => {
        out += d.toString()
        if (out.includes('Ready to accept connections')) {
          p.stdout!.off('data', onData)
          p.stdout!.resume()
          resolve()
        }
      }
      p.stdout!.on('data', onData)
      p.stderr!.on('data', (d: Buffer) => {
        out += d.toString()
      })
      p.once('exit', (code, signal) =>
        reject(new Error(`redis-server exited (${signal ?? code}) before it was ready: ${out.slice(-2000)}`)),
      )
    })

  const connect = async () => {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(certs ? { tls: { ca: readFileSync(certs.caFile) } } : {}),
    })
    c.on('error', () => {})
    await c.connect()
    clients.push(c)
    return c
  }

  await start()
  return {
    port,
    url,
    password,
    ...(certs ? { caFile: certs.caFile } : {}),
    env: () => ({ FLEET_REDIS_URL: url, FLEET_REDIS_PASSWORD: password, ...(certs ? { FLEET_REDIS_CA_FILE: certs.caFile } : {}) }),
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
      const p = child
      if (!p || p.exitCode !== null || p.signalCode !== null) return
      // The listener start() left would report this exit as a failure to start.
      p.removeAllListeners('exit')
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()))
      p.kill(signal)
      await exited
    },
    start,
  }
}
