// The one Mosquitto launcher, for the tests and the benchmark: a broker of its own on free loopback ports,
// configured as docs/architecture.md ("Known traps") says, with the options below.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { messageOf } from '../../shared/errors.js'

/** Debian puts the brokers in /usr/sbin (RabbitMQ's tools in its own folder), which many users do not have on their PATH. */
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/opt/homebrew/sbin', '/usr/lib/rabbitmq/bin']

/** The full path of a program on the PATH or in the usual sbin directories, or undefined. */
export function findProgram(name: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...SBIN]) {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {
      // not here
    }
  }
  return undefined
}

export async function freePort(): Promise<number> {
  const srv = createServer().unref()
  await once(srv.listen(0, '127.0.0.1'), 'listening')
  const { port } = srv.address() as AddressInfo
  await new Promise((r) => srv.close(r))
  return port
}

export interface TestCertificates {
  dir: string
  caFile: string
  certFile: string
  keyFile: string
}

/** A throwaway CA and a certificate for 127.0.0.1 it signed, made with openssl. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tls-'))
  // `@name` is a file in `dir` (split first, so a directory with spaces in its name stays one argument).
  const ssl = (args: string) =>
    execFileSync(
      'openssl',
      args.split(' ').map((a) => a.replace(/^@/, `${dir}/`)),
      { stdio: 'pipe' },
    )
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  ssl(`req -x509 ${ec} -keyout @ca.key -out @ca.crt -days 2 -subj /CN=rocketmq-mqtt-bridge-test-CA`)
  ssl(`req ${ec} -keyout @server.key -out @server.csr -subj /CN=127.0.0.1`)
  ssl('x509 -req -in @server.csr -CA @ca.crt -CAkey @ca.key -CAcreateserial -out @server.crt -days 2 -extfile @san.ext')
  return { dir, caFile: `${dir}/ca.crt`, certFile: `${dir}/server.crt`, keyFile: `${dir}/server.key` }
}

export interface Broker {
  kind: 'mosquitto' | 'aedes'
  port: number
  url: string
  /** With `tls`: mqtts:// on its own port, certificate signed by `caFile`; with `websockets`: ws://. */
  tlsUrl?: string
  caFile?: string
  wsUrl?: string
  version?: string
  /** Everything the broker logged so far, and how many connections came from client IDs starting with `prefix`. */
  log(): string
  connectionsFrom(prefix: string): number
  /** SIGKILL by default; SIGTERM lets Mosquitto save its persistence file first. start() again: same ports. */
  stop(signal?: NodeJS.Signals): Promise<void>
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: the broker keeps its sockets open but answers nothing. */
  pause(): void
  resume(): void
  /** Stops it (SIGTERM) and removes its files. */
  close(): Promise<void>
  process?: ChildProcess
}

export interface MosquittoOptions {
  port?: number
  /** Extra lines for mosquitto.conf (they apply to every listener before them). */
  config?: string[]
  persistence?: boolean
  /** Require this user and password (anonymous refused). */
  password?: { username: string; password: string }
  /** Also listen with TLS (a test CA) and/or WebSockets, each on a free port. */
  tls?: boolean
  websockets?: boolean
  /** Log every packet (`Received PUBLISH from <client id> …`). */
  debugLog?: boolean
  /**
   * Limits as deployments set them (docs/reliability.md, "Broker limits"), left out when not given:
   * max_packet_size, message_size_limit, max_inflight_messages (in place of the unlimited 0), max_keepalive.
   */
  limits?: { maxPacketSize?: number; messageSizeLimit?: number; maxInflightMessages?: number; maxKeepalive?: number }
  /** Topics no client may publish to or read (an ACL file allowing everything else). */
  denyTopics?: string[]
}

let version: string | undefined
/** `mosquitto version 2.0.11` -> `2.0.11` (asked once: the tests start many brokers), or undefined when not installed. */
export function mosquittoVersion(): string | undefined {
  const program = findProgram('mosquitto')
  if (version || !program) return program && version
  const r = spawnSync(program, ['-h'], { encoding: 'utf8' })
  version = /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown'
  return version
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  for (const until = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 25))) {
    const s = tcpConnect(port, '127.0.0.1')
    const open = await once(s, 'connect').then(
      () => true,
      () => false,
    )
    s.destroy()
    if (open) return
    if (Date.now() > until) throw new Error(`the broker did not open port ${port} within ${timeoutMs} ms`)
  }
}

type Listeners = { dir: string; port: number; certs: TestCertificates | undefined; tlsPort?: number; wsPort?: number }

function configLines(o: MosquittoOptions, { dir, port, certs, tlsPort, wsPort }: Listeners): string[] {
  const l = o.limits ?? {}
  const optional = (value: number | undefined, name: string) => (value === undefined ? [] : [`${name} ${value}`])
  return [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${o.password ? 'false' : 'true'}`,
    // Started as root, Mosquitto would otherwise drop to the mosquitto user (docs/architecture.md, "Known traps").
    'user root',
    'log_dest stderr', // unbuffered, unlike stdout into a pipe
    ...['error', 'warning', 'notice', 'information'].map((t) => `log_type ${t}`),
    'connection_messages true',
    // A slow subscriber must not make the broker drop messages.
    'max_queued_messages 0',
    // Mosquitto promises in-order delivery to a subscriber only when nothing is queued behind a full in-flight
    // window (its docs: max_inflight_messages): no maximum unless asked, so the order seen is the order sent.
    `max_inflight_messages ${l.maxInflightMessages ?? 0}`,
    ...optional(l.maxPacketSize, 'max_packet_size'),
    ...optional(l.messageSizeLimit, 'message_size_limit'),
    ...optional(l.maxKeepalive, 'max_keepalive'),
    ...(o.denyTopics ? [`acl_file ${dir}/acl`] : []),
    ...(o.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : []),
    ...(o.password ? [`password_file ${dir}/passwords`] : []),
    ...(o.debugLog ? ['log_type debug'] : []),
    ...(o.config ?? []),
    ...(certs ? [`listener ${tlsPort} 127.0.0.1`, `cafile ${certs.caFile}`, `certfile ${certs.certFile}`, `keyfile ${certs.keyFile}`] : []),
    ...(wsPort ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
  ]
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Broker> {
  const program = findProgram('mosquitto')
  if (!program)
    throw new Error('Mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients (Debian), brew install mosquitto (macOS)')
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'mosq-'))
  const conf = join(dir, 'mosquitto.conf')
  const certs = options.tls ? makeCertificates() : undefined
  const tlsPort = certs ? await freePort() : undefined
  const wsPort = options.websockets ? await freePort() : undefined
  writeFileSync(conf, `${configLines(options, { dir, port, certs, tlsPort, wsPort }).join('\n')}\n`)
  if (options.denyTopics)
    writeFileSync(join(dir, 'acl'), `${['topic readwrite #', ...options.denyTopics.map((t) => `topic deny ${t}`)].join('\n')}\n`)
  if (options.password) {
    const { username, password } = options.password
    const r = spawnSync(findProgram('mosquitto_passwd') ?? 'mosquitto_passwd', ['-b', '-c', join(dir, 'passwords'), username, password])
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`)
  }
  let output = ''
  let child: ChildProcess | undefined
  const broker: Broker = {
    kind: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    ...(certs ? { tlsUrl: `mqtts://127.0.0.1:${tlsPort}`, caFile: certs.caFile } : {}),
    ...(wsPort ? { wsUrl: `ws://127.0.0.1:${wsPort}` } : {}),
    version: mosquittoVersion(),
    log: () => output,
    connectionsFrom: (prefix) => output.split('\n').filter((l) => l.includes('New client connected') && l.includes(` as ${prefix}`)).length,
    async start() {
      const c = spawn(program, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = broker.process = c
      for (const s of [c.stdout!, c.stderr!])
        s.on('data', (d: Buffer) => {
          output += d.toString()
        })
      const exited = once(c, 'exit').then(([code]) => Promise.reject(new Error(`mosquitto exited with ${code}:\n${output}`)))
      exited.catch(() => {})
      try {
        await Promise.race([Promise.all([port, tlsPort, wsPort].filter((p) => p !== undefined).map((p) => waitForPort(p))), exited])
      } catch (err) {
        c.kill('SIGKILL')
        throw new Error(`${messageOf(err)}\n${output.slice(-4000)}`)
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const gone = once(c, 'exit')
      c.kill('SIGCONT')
      c.kill(signal)
      const timer = setTimeout(() => c.kill('SIGKILL'), 3000)
      await gone
      clearTimeout(timer)
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async close() {
      await broker.stop('SIGTERM')
      for (const d of [dir, certs?.dir]) if (d) rmSync(d, { recursive: true, force: true })
    },
  }
  await broker.start()
  return broker
}
