// Real brokers for the tests: Mosquitto started on a free loopback port, and the embedded aedes broker
// where a test needs a broker that speaks MQTT 3.1.1 only.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { findProgram, requirePrograms } from './requirements.js'
import { makeCertificates } from './tls.js'

export interface Broker {
  kind: 'mosquitto' | 'aedes'
  port: number
  url: string
  /** With `tls`: mqtts:// on its own port, certificate signed by `caFile`. */
  tlsUrl?: string
  caFile?: string
  /** With `websockets`: ws:// on its own port. */
  wsUrl?: string
  /** Everything Mosquitto logged so far (connection lines included). */
  log(): string
  /** How many connections Mosquitto saw from client IDs starting with `prefix`. */
  connectionsFrom(prefix: string): number
  /** SIGKILL by default; SIGTERM lets Mosquitto save its persistence file first. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and configuration (after stop). */
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: the broker keeps its sockets open but answers nothing. */
  pause(): void
  resume(): void
  process?: ChildProcess
}

export { mosquittoInstalled } from './requirements.js'

async function waitForPort(port: number, timeoutMs = 10000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`broker did not open port ${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface MosquittoOptions {
  port?: number
  /** Extra lines for mosquitto.conf. */
  config?: string[]
  /** A persistence directory (needs `user root`, which every config here has). */
  persistence?: boolean
  /** Require this user and password (anonymous refused). */
  password?: { username: string; password: string }
  /** Also listen with TLS (a test CA) and/or WebSockets, each on a free port. */
  tls?: boolean
  websockets?: boolean
  /** Log every packet (`Received PUBLISH from <client id> …`). */
  debugLog?: boolean
  /** Limits as deployments set them (docs/reliability.md, "Broker limits"); each is left out when not given. */
  limits?: {
    /** `max_packet_size`: announced in CONNACK (MQTT 5); a larger packet closes the connection. */
    maxPacketSize?: number
    /** `message_size_limit`: a larger payload is dropped (MQTT 5: PUBACK/PUBREC 0x95, which MQTT.js cannot read). */
    messageSizeLimit?: number
    /** `max_inflight_messages`, in place of the unlimited 0 the tests use otherwise (the receive maximum on MQTT 5). */
    maxInflightMessages?: number
    /** `max_keepalive`: the server keepalive on MQTT 5. Mosquitto takes 10 at the lowest. */
    maxKeepalive?: number
  }
  /** Topics no client may publish to or read (an ACL file allowing everything else). */
  denyTopics?: string[]
}

function limitLines(limits: MosquittoOptions['limits']): string[] {
  if (!limits) return []
  return [
    ...(limits.maxPacketSize !== undefined ? [`max_packet_size ${limits.maxPacketSize}`] : []),
    ...(limits.messageSizeLimit !== undefined ? [`message_size_limit ${limits.messageSizeLimit}`] : []),
    ...(limits.maxKeepalive !== undefined ? [`max_keepalive ${limits.maxKeepalive}`] : []),
  ]
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Broker> {
  requirePrograms('mosquitto')
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'mosq-'))
  const conf = join(dir, 'mosquitto.conf')
  const certs = options.tls ? makeCertificates() : undefined
  const tlsPort = certs ? await freePort() : undefined
  const wsPort = options.websockets ? await freePort() : undefined
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `allow_anonymous ${options.password ? 'false' : 'true'}`,
      // Started as root, Mosquitto would otherwise drop to the mosquitto user (docs/architecture.md, "Known traps").
      'user root',
      'log_dest stderr', // unbuffered, unlike stdout into a pipe
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      // A slow subscriber must not make the broker drop messages.
      'max_queued_messages 0',
      // Mosquitto promises in-order delivery to a subscriber only when nothing is queued behind a full
      // in-flight window (its docs: max_inflight_messages); a loaded, slow subscriber otherwise may see
      // a later QoS 1 message first. No maximum: the order the tests check is the order the bridge sent.
      `max_inflight_messages ${options.limits?.maxInflightMessages ?? 0}`,
      ...limitLines(options.limits),
      ...(options.denyTopics ? [`acl_file ${dir}/acl`] : []),
      ...(options.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : []),
      ...(options.password ? [`password_file ${dir}/passwords`] : []),
      ...(options.debugLog ? ['log_type debug'] : []),
      ...(certs
        ? [`listener ${tlsPort} 127.0.0.1`, `cafile ${certs.caFile}`, `certfile ${certs.certFile}`, `keyfile ${certs.keyFile}`]
        : []),
      ...(wsPort ? [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'] : []),
      ...(options.config ?? []),
    ].join('\n') + '\n',
  )
  if (options.denyTopics)
    writeFileSync(join(dir, 'acl'), ['topic readwrite #', ...options.denyTopics.map((t) => `topic deny ${t}`)].join('\n') + '\n')
  if (options.password) {
    const r = spawnSync(findProgram('mosquitto_passwd')!, [
      '-b',
      '-c',
      join(dir, 'passwords'),
      options.password.username,
      options.password.password,
    ])
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
    log: () => output,
    connectionsFrom: (prefix) => output.split('\n').filter((l) => l.includes('New client connected') && l.includes(` as ${prefix}`)).length,
    async start() {
      child = spawn(findProgram('mosquitto')!, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      broker.process = child
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString()
      })
      child.stderr!.on('data', (d: Buffer) => {
        output += d.toString()
      })
      const exited = new Promise<never>((_, reject) =>
        child!.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}:\n${output}`))),
      )
      exited.catch(() => {})
      await Promise.race([Promise.all([port, tlsPort, wsPort].filter((p) => p !== undefined).map((p) => waitForPort(p))), exited])
    },
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise((r) => c.once('exit', r))
      c.kill('SIGCONT')
      c.kill(signal)
      await gone
    },
    pause() {
      child?.kill('SIGSTOP')
    },
    resume() {
      child?.kill('SIGCONT')
    },
  }
  await broker.start()
  return broker
}

/** The embedded broker (aedes, MQTT 3.1.1 only), on a free loopback port. */
export async function startAedes(options: { port?: number } = {}): Promise<Broker> {
  const { Aedes } = await import('aedes')
  const port = options.port ?? (await freePort())
  let server: Server | undefined
  let aedes: InstanceType<typeof Aedes> | undefined
  let connections = new Map<string, number>()
  const sockets = new Set<Socket>()
  const broker: Broker = {
    kind: 'aedes',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    log: () => [...connections].map(([id, n]) => `${id}: ${n}`).join('\n'),
    connectionsFrom: (prefix) => [...connections].filter(([id]) => id.startsWith(prefix)).reduce((a, [, n]) => a + n, 0),
    async start() {
      aedes = await Aedes.createBroker()
      aedes.on('client', (client) => connections.set(client.id, (connections.get(client.id) ?? 0) + 1))
      server = createServer(aedes.handle)
      server.on('connection', (sock) => {
        sockets.add(sock)
        sock.once('close', () => sockets.delete(sock))
      })
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(port, '127.0.0.1', () => resolve())
      })
    },
    pause() {
      throw new Error('aedes runs in this process: it cannot be paused')
    },
    resume() {},
    async stop() {
      const s = server,
        a = aedes
      server = undefined
      aedes = undefined
      if (!s || !a) return
      await new Promise<void>((r) => a.close(() => r()))
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((r) => s.close(() => r()))
    },
  }
  connections = new Map()
  await broker.start()
  return broker
}
