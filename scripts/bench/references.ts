// The references the bridge is measured against, on the same broker in the same run:
// (a) the broker vendor's C client, `mosquitto_pub -l -M 20`, one long-lived process fed one message per line;
// (b) a plain MQTT.js loop on one long-lived connection;
// (c) the naive sample pattern: connect, publish, disconnect in every invocation.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connectAsync } from 'mqtt'
import { cloudEventBatch, naiveMessages, parentTopic, plainMessages, stdinLines } from './messages.js'
import { type Publisher, publishBounded, type ScenarioShape } from './publishers.js'

/** TLS trust for MQTT.js: the bench's own CA, verified. */
function trust(shape: ScenarioShape): { ca?: Buffer } {
  return shape.caFile ? { ca: readFileSync(shape.caFile) } : {}
}

let ids = 0
const clientId = (what: string) => `bench-${what}-${process.pid}-${(ids++).toString(36)}`

/**
 * (a) `mosquitto_pub -l`: reads stdin line by line and publishes each line on one connection. Kept alive
 * across batches like the bridge's pool; a batch is done when the subscriber has it (see bench-measure).
 */
export function mosquittoPub(shape: ScenarioShape): Publisher {
  const url = new URL(shape.url)
  const child = spawn(
    'mosquitto_pub',
    [
      '-h',
      url.hostname,
      '-p',
      url.port,
      '-i',
      clientId('mosquitto-pub'),
      '-t',
      `${parentTopic(shape.qos)}/mosquitto-pub/t0`,
      '-q',
      String(shape.qos),
      '-V',
      shape.version === 5 ? 'mqttv5' : 'mqttv311',
      // At most 20 QoS 1/2 messages in flight (its default, said outright): the bridge's window on Mosquitto.
      '-M',
      '20',
      ...(shape.caFile ? ['--cafile', shape.caFile] : []),
      '-l',
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  )
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
        new Promise((resolve, reject) => {
          if (exited) return reject(exited)
          child.stdin!.write(lines, (err) => (err ? reject(err) : resolve()))
        })
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.stdin!.end()
      await gone
      clearTimeout(timer)
    },
  }
}

/** (b) MQTT.js on one long-lived connection, the same bound on messages in flight as the bridge. */
export async function plainLoop(shape: ScenarioShape): Promise<Publisher> {
  const client = await connectAsync(shape.url, {
    protocolVersion: shape.version,
    clientId: clientId('plain'),
    reconnectPeriod: 0,
    clean: true,
    keepalive: 60,
    ...trust(shape),
  })
  client.on('error', () => {})
  return {
    name: 'MQTT.js loop',
    prepare(key, count) {
      const messages = plainMessages(key, count, shape.qos)
      return () => publishBounded(client, messages, shape.qos)
    },
    close: () => client.endAsync(),
  }
}

/**
 * (c) The common sample pattern, as a Function Compute handler: parse the event, connect, publish,
 * disconnect, in every invocation. Publishing is bounded like the bridge's, so what differs is the
 * connection per invocation.
 */
export async function naiveHandler(event: Buffer, shape: ScenarioShape): Promise<number> {
  const messages = naiveMessages(event)
  // The sample pattern reads its CA per invocation too: nothing survives between invocations.
  const client = await connectAsync(shape.url, {
    protocolVersion: shape.version,
    clientId: clientId('naive'),
    reconnectPeriod: 0,
    clean: true,
    keepalive: 60,
    ...trust(shape),
  })
  client.on('error', () => {})
  try {
    await publishBounded(client, messages, shape.qos)
  } finally {
    await client.endAsync()
  }
  return messages.length
}

export function naive(shape: ScenarioShape): Publisher {
  return {
    name: 'naive',
    prepare(key, count) {
      const event = cloudEventBatch(key, count, shape.qos)
      return async () => {
        await naiveHandler(event, shape)
      }
    },
    close: async () => {},
  }
}
