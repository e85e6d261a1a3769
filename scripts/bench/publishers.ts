// A measured publisher (a batch prepared untimed, then sent timed), and the references the bridge is measured
// against: the broker vendor's C client, a plain MQTT.js loop, and the naive connect-per-invocation handler.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connectAsync, type MqttClient } from 'mqtt'
import { type BenchQos, cloudEventBatch, naiveMessages, type PlainMessage, parentTopic, plainMessages, stdinLines } from './messages.js'

export interface Publisher {
  readonly name: string
  /** The returned function, which sends batch `key` of `count` messages, is what is timed. */
  prepare(key: string, count: number): () => Promise<void>
  close(): Promise<void>
}

export interface ScenarioShape {
  url: string
  qos: BenchQos
  version: 4 | 5
  /** For mqtts://: the CA that signed the broker's certificate (verified, as in production). */
  caFile?: string
}

/** Asks `child` to end and waits until it exited, killing it after `graceMs`. */
export async function endChild(child: ChildProcess, end: () => void, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  end()
  await gone
  clearTimeout(timer)
}

let ids = 0
const clientId = (what: string) => `bench-${what}-${process.pid}-${(ids++).toString(36)}`

/** Publishes in order with at most `window` unacknowledged (the bridge's own bound, 20), the way its pool does. */
async function publishBounded(client: MqttClient, messages: PlainMessage[], qos: BenchQos, window = 20): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!
      await client.publishAsync(m.topic, m.payload, { qos })
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, messages.length) }, worker))
}

function open(shape: ScenarioShape, what: string): Promise<MqttClient> {
  return connectAsync(shape.url, {
    protocolVersion: shape.version,
    clientId: clientId(what),
    reconnectPeriod: 0,
    keepalive: 60,
    ...(shape.caFile ? { ca: readFileSync(shape.caFile) } : {}),
  }).then((client) => client.on('error', () => {}))
}

/** `mosquitto_pub -l -M 20`, one process kept alive across batches like the bridge's pool, fed one message a line. */
export function mosquittoPub(shape: ScenarioShape): Publisher {
  const url = new URL(shape.url)
  const topic = `${parentTopic(shape.qos)}/mosquitto-pub/t0`
  // At most 20 QoS 1/2 messages in flight (its default, said outright): the bridge's window on Mosquitto.
  const args = ['-h', url.hostname, '-p', url.port, '-i', clientId('mosquitto-pub'), '-t', topic, '-q', String(shape.qos), '-M', '20', '-l']
  args.push('-V', shape.version === 5 ? 'mqttv5' : 'mqttv311', ...(shape.caFile ? ['--cafile', shape.caFile] : []))
  const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  let exited: Error | undefined
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000)
  })
  child.stdin!.on('error', () => {})
  child.once('exit', (code, signal) => {
    exited = new Error(`mosquitto_pub exited (${signal ?? code}): ${stderr.trim()}`)
  })
  return {
    name: 'mosquitto_pub',
    prepare(key, count) {
      const lines = stdinLines(key, count)
      return () =>
        new Promise((resolve, reject) => (exited ? reject(exited) : child.stdin!.write(lines, (err) => (err ? reject(err) : resolve()))))
    },
    close: () => endChild(child, () => child.stdin!.end(), 5000),
  }
}

/** MQTT.js on one long-lived connection, the same bound on messages in flight as the bridge. */
export async function plainLoop(shape: ScenarioShape): Promise<Publisher> {
  const client = await open(shape, 'plain')
  return {
    name: 'MQTT.js loop',
    prepare(key, count) {
      const messages = plainMessages(key, count, shape.qos)
      return () => publishBounded(client, messages, shape.qos)
    },
    close: () => client.endAsync(),
  }
}

/** The common sample handler: parse the event, connect (reading its CA: nothing survives), publish bounded like the bridge, disconnect. */
export function naive(shape: ScenarioShape): Publisher {
  return {
    name: 'naive',
    prepare(key, count) {
      const event = cloudEventBatch(key, count, shape.qos)
      return async () => {
        const messages = naiveMessages(event)
        const client = await open(shape, 'naive')
        try {
          await publishBounded(client, messages, shape.qos)
        } finally {
          await client.endAsync()
        }
      }
    },
    close: async () => {},
  }
}
