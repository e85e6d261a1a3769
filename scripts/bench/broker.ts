// The benchmark's own Mosquitto, on a free loopback port, configured so that a slow subscriber cannot
// make it drop messages (docs/architecture.md, "Known traps"). Independent of test/ on purpose.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { messageOf } from '../../shared/errors.js'
import { freePort } from '../free-port.js'
import { makeCertificates } from '../tls-certificates.js'

/** Debian installs the broker in /usr/sbin, which is not on every user's PATH. */
const MOSQUITTO =
  ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'].find((p) => existsSync(p)) ?? 'mosquitto'

export interface BenchBroker {
  port: number
  url: string
  /** An mqtts:// listener on its own port, its certificate signed by `caFile`. */
  tlsUrl: string
  caFile: string
  version: string
  stop(): Promise<void>
}

/** `mosquitto version 2.0.11` -> `2.0.11`, or undefined when Mosquitto is not installed. */
export function mosquittoVersion(): string | undefined {
  const r = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' })
  if (r.error) return undefined
  return /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown'
}

export function mosquittoPubInstalled(): boolean {
  return spawnSync('mosquitto_pub', ['--help']).error === undefined
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode}`)
    const open = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`mosquitto did not open port ${port} within ${timeoutMs} ms`)
}

export async function startBroker(extraConfig: string[] = []): Promise<BenchBroker> {
  const version = mosquittoVersion()
  if (version === undefined)
    throw new Error('npm run bench needs Mosquitto and mosquitto_pub on the PATH: apt-get install -y mosquitto mosquitto-clients')
  const port = await freePort()
  const tlsPort = await freePort()
  const certs = makeCertificates()
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosq-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Started as root, Mosquitto would otherwise drop to the mosquitto user.
      'user root',
      // Unlimited queues: a subscriber that falls behind is queued for, never dropped.
      'max_queued_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...extraConfig,
      // The TLS listener (options above apply to every listener).
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${certs.caFile}`,
      `certfile ${certs.certFile}`,
      `keyfile ${certs.keyFile}`,
    ].join('\n') + '\n',
  )
  let log = ''
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000)
  })
  try {
    await waitForPort(port, child, 10_000)
    await waitForPort(tlsPort, child, 10_000)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`${messageOf(err)}\n${log}`)
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    tlsUrl: `mqtts://127.0.0.1:${tlsPort}`,
    caFile: certs.caFile,
    version,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await gone
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
      rmSync(certs.dir, { recursive: true, force: true })
    },
  }
}
