// The one redis-server launcher, for the fleet-store tests (test/helpers/redis.ts) and the benchmark: a Redis
// of its own on a free loopback port, nothing saved, a password always, optionally TLS only. It starts in well
// under a second; "Ready to accept connections" on its stdout says when.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { findProgram, freePort, makeCertificates, type TestCertificates } from '../mqtt/mosquitto.js'

export interface RedisProcess {
  port: number
  /** FLEET_REDIS_URL: redis://127.0.0.1:<port>, or rediss:// with `tls`. */
  url: string
  password: string
  /** With `tls`: the certificates, `caFile` the CA that signed the server's. */
  certificates?: TestCertificates
  /** The running process, for its CPU time. */
  readonly child: ChildProcess | undefined
  /** SIGKILL by default: everything in memory is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
}

export async function startRedisServer(options: { tls?: boolean; password?: string } = {}): Promise<RedisProcess> {
  const program = findProgram('redis-server')
  if (program === undefined) throw new Error('redis-server is not installed: apt-get install -y redis-server')
  const port = await freePort()
  const password = options.password ?? `fleet-${randomBytes(12).toString('hex')}`
  const certificates = options.tls ? makeCertificates() : undefined
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password, '--daemonize', 'no']
  if (certificates) {
    const { certFile, keyFile, caFile } = certificates
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile)
    args.push('--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no')
  } else args.push('--port', String(port))
  let child: ChildProcess | undefined

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      child = p
      let out = ''
      const onData = (d: Buffer) => {
        out = (out + d.toString()).slice(-4000)
        if (!out.includes('Ready to accept connections')) return
        p.stdout!.off('data', onData)
        p.stdout!.resume()
        resolve()
      }
      p.stdout!.on('data', onData)
      p.stderr!.on('data', (d: Buffer) => {
        out = (out + d.toString()).slice(-4000)
      })
      p.once('exit', (code, signal) =>
        reject(new Error(`redis-server exited (${signal ?? code}) before it was ready: ${out.slice(-2000)}`)),
      )
    })

  await start()
  return {
    port,
    url: `${certificates ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    password,
    ...(certificates ? { certificates } : {}),
    get child() {
      return child
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
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
