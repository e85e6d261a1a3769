// A RabbitMQ node with its MQTT plugin, started by the tests on free ports: its own node name, ports, config,
// Mnesia and log directories (owned by the rabbitmq user, which the Debian wrapper drops to when started as
// root). It takes about 10 s to answer MQTT, so a suite starts one node for all its tests; `rabbitmqctl stop`
// ends it in under a second.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { freePort } from './ports.js'
import { findProgram, requirePrograms } from './requirements.js'

export interface RabbitMQ {
  url: string
  nodeName: string
  /** What the node printed on stdout and stderr so far. */
  output(): string
  stop(): Promise<void>
}

const STARTUP_MS = 90_000

export async function startRabbitMQ(): Promise<RabbitMQ> {
  requirePrograms('rabbitmq')
  if (process.getuid?.() !== 0)
    throw new Error('the RabbitMQ tests start their node as root (the Debian wrapper then drops to the rabbitmq user)')
  const [mqttPort, amqpPort, distPort] = [await freePort(), await freePort(), await freePort()]
  const nodeName = `bridge-test-${process.pid}-${mqttPort}@localhost`
  const dir = mkdtempSync(join(tmpdir(), 'rabbitmq-'))
  const conf = join(dir, 'rabbitmq.conf')
  writeFileSync(
    conf,
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
      'mqtt.allow_anonymous = true',
      'loopback_users = none',
      'log.console = false',
    ].join('\n') + '\n',
  )
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: conf,
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
  }
  const run = (program: string, args: string[]) => {
    const r = spawnSync(findProgram(program)!, args, { env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`)
  }
  run('rabbitmq-plugins', ['--offline', 'enable', 'rabbitmq_mqtt'])
  run('chown', ['-R', 'rabbitmq:rabbitmq', dir])

  let output = ''
  const child: ChildProcess = spawn(findProgram('rabbitmq-server')!, [], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    spawnSync(findProgram('rabbitmqctl')!, ['-n', nodeName, 'stop'], { env, encoding: 'utf8' })
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  const url = `mqtt://127.0.0.1:${mqttPort}`
  try {
    await answersMqtt(url, child)
  } catch (err) {
    await stop()
    throw new Error(`${(err as Error).message}\n${output}`)
  }
  return { url, nodeName, output: () => output, stop }
}

/** Waits until the node answers an MQTT 3.1.1 CONNECT (its listener opens before the plugin is ready). */
async function answersMqtt(url: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + STARTUP_MS
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rabbitmq-server exited with ${child.exitCode}`)
    try {
      const c = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 1000, clientId: 'startup-probe' }, false)
      await c.endAsync()
      return
    } catch {
      if (Date.now() > until) throw new Error(`RabbitMQ did not answer MQTT at ${url} within ${STARTUP_MS} ms`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}
