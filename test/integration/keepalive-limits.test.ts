// The keepalive the broker assigns. Mosquitto with max_keepalive 10 (the lowest it takes) tells an MQTT 5
// client 10 s (server keepalive) and closes a connection silent for 15 s. A bridge frozen longer than that
// (as Function Compute freezes idle instances) must not write the next invocation's QoS 0 messages to the
// dead connection and count them delivered: it checks the connection (PINGREQ) or reopens it first.
import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { barrier, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { cloudEvent } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const CHILD = fileURLToPath(new URL('../helpers/bridge-child.ts', import.meta.url))

interface Reply {
  summary?: { published: number; failed: number }
  error?: string
  lines: string[]
}

/** The bridge in a child process: one invocation per call, answered in order. */
function childBridge(url: string): { invoke(event: unknown[], freezeMs?: number): Promise<Reply>; stop(): Promise<void> } {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      MQTT_URL: url,
      MQTT_PROTOCOL_VERSION: '5',
      MQTT_PUBLISH_TIMEOUT_MS: '3000',
      DEAD_LETTER_TARGET: 'file:/tmp/dl-keepalive',
    },
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const waiting: Array<(r: Reply) => void> = []
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line) as Reply))
  return {
    invoke: (event, freezeMs) =>
      new Promise((resolve, reject) => {
        const failed = () => reject(new Error(`the bridge child exited: ${stderr}`))
        child.once('exit', failed)
        waiting.push((r) => {
          child.removeListener('exit', failed)
          resolve(r)
        })
        child.stdin.write(`${JSON.stringify({ handle: event, ...(freezeMs ? { freezeMs } : {}) })}\n`)
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.stdin.end()
      }),
  }
}

/** Five QoS 0 and five QoS 1 messages on one topic each. */
function batch(tag: string): unknown[] {
  return Array.from({ length: 10 }, (_, i) =>
    cloudEvent(i, {
      topic: 'device-commands',
      userProperties: { mqttSecondTopic: `/ka/q${i % 2}`, qoslevel: String(i % 2) },
      body: `${tag}-${i}`,
      uniq: `${tag}-${i}`,
    }),
  )
}

describe('broker limit: max_keepalive 10 (the server keepalive)', needsMosquitto(), () => {
  let broker: Broker
  let sub: Subscriber
  before(async () => {
    broker = await startMosquitto({ limits: { maxKeepalive: 10 } })
    sub = await subscribe(broker.url, ['devices/#'], 5)
  })
  after(async () => {
    await sub.close()
    await broker.stop()
  })

  test('frozen 17 s, past the 15 s the broker waits: the next invocation reopens first, and all 10 messages arrive', async () => {
    const bridge = childBridge(broker.url)
    try {
      const first = await bridge.invoke(batch('before'))
      assert.equal(first.summary?.published, 10, first.error)
      const after = await bridge.invoke(batch('after'), 17_000)
      assert.deepEqual([after.summary?.published, after.summary?.failed, after.error], [10, 0, undefined])
      await barrier(
        async (sentinels) => {
          const r = await bridge.invoke(
            sentinels.map((s, i) =>
              cloudEvent(i, {
                topic: 'device-commands',
                userProperties: { mqttSecondTopic: s.topic.slice('devices'.length), qoslevel: String(s.qos) },
                body: s.payload,
                uniq: s.payload,
              }),
            ),
          )
          assert.equal(r.summary?.published, sentinels.length, r.error)
        },
        [sub],
        [
          { topic: 'devices/ka/q0', qos: 0 },
          { topic: 'devices/ka/q1', qos: 1 },
        ],
      )
      const got = withoutSentinels(sub.messages)
        .map((m) => m.payload.toString())
        .filter((p) => p.startsWith('after-'))
      assert.deepEqual(got.sort(), Array.from({ length: 10 }, (_, i) => `after-${i}`).sort())
      // The idle check found the connection dead: the broker's 10 s keepalive, not the bridge's 60 s, was the bound.
      const reopened = after.lines.filter((l) => l.includes('"event":"mqtt.idle-reopen"'))
      assert.equal(reopened.length, 1, after.lines.join('\n'))
      assert.match(reopened[0]!, /"keepaliveS":10/)
    } finally {
      await bridge.stop()
    }
  })
})
