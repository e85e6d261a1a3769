// npm run replay (scripts/cli/replay.ts, run as the CLI) with --target local: an in-process bridge built
// from the environment delivers stored dead letters to a real broker and marks them replayed.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { poisonEntries } from '../../shared/dead-letters/entries.js'
import { recognise } from '../../shared/dead-letters/intake.js'
import { appendDeadLetters, type DeadLetterEntry, readDeadLetters } from '../../shared/dead-letters/store.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, mosquittoInstalled, startAedes, startMosquitto } from '../helpers/broker.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const run = promisify(execFile)

/** A CloudEvent for the bundled rule home-lamps (TopicName, TagA -> home/<subtopic>). */
function cloudEvent(id: string, body: string, userProperties: Record<string, string>) {
  return {
    id: `e-${id}`,
    specversion: '1.0',
    subject: `acs:mq:cn-hangzhou:1:${INSTANCE}%TopicName`,
    time: '2024-05-01T00:00:00.000Z',
    data: { topic: 'TopicName', systemProperties: { UNIQ_KEY: id, TAGS: 'TagA' }, userProperties, body },
  }
}

let broker: Broker
let sub: Subscriber

/** Where a replay of the store could publish: the three stored messages' topics, at their QoS 1. */
const STORED_LANES = ['A', 'B', 'C'].map((id) => ({ topic: `home/room${id}/lamp`, qos: 1 }))

/**
 * Waits until anything the replay CLI sent has reached the subscriber. The CLI has exited, so no
 * sentinel can share its connection; but the bridge in it counts a message only once the broker
 * acknowledged it, so the broker took every one of them before this sentinel, on the same topic and QoS,
 * was sent (helpers/barrier.ts).
 */
const settle = () => barrier(viaClient(broker.url), [sub], STORED_LANES)
let dir: string
let otherStore: string

async function replayCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    MQTT_URL: broker.url,
    DEAD_LETTER_TARGET: `file:${otherStore}`,
    LOG_LEVEL: 'error',
    MQTT_PUBLISH_TIMEOUT_MS: '5000',
  }
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts/cli/replay.ts'), '--dir', dir, ...args],
      { cwd: root, env },
    )
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

before(async () => {
  broker = mosquittoInstalled() ? await startMosquitto() : await startAedes()
  sub = await subscribe(broker.url, ['home/#'], 4)
  dir = mkdtempSync(join(tmpdir(), 'replay-store-'))
  otherStore = mkdtempSync(join(tmpdir(), 'replay-dl-'))
  // Three messages of an invocation whose retries ran out, and one poison message with a bad QoS.
  const batch = ['A', 'B', 'C'].map((id) => cloudEvent(`R-${id}`, `lamp ${id}`, { mqttSecondTopic: `/room${id}/lamp`, qoslevel: '1' }))
  const record = {
    timestamp: Date.parse('2024-05-01T00:01:00Z'),
    requestContext: { requestId: 'failed-1', condition: 'UnhandledInvocationError', approximateInvokeCount: 4 },
    requestPayload: JSON.stringify(batch),
    responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
    responsePayload: '{"errorMessage":"3 of 3 messages not acknowledged by the MQTT broker"}',
  }
  await appendDeadLetters(dir, (recognise(record, new Date(), 'x') as { entries: DeadLetterEntry[] }).entries)
  await appendDeadLetters(
    dir,
    poisonEntries({
      kind: 'rocketmq-mqtt-bridge.poison',
      requestId: 'bridge-1',
      failedAt: '2024-05-01T00:02:00.000Z',
      messages: [
        {
          reason: 'qoslevel: must be 0, 1 or 2, got "7"',
          ruleId: 'home-lamps',
          messageId: 'P-1',
          index: 0,
          event: cloudEvent('P-1', 'bad', { mqttSecondTopic: '/x', qoslevel: '7' }),
        },
      ],
    }),
  )
})

after(async () => {
  await sub?.close()
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
  rmSync(otherStore, { recursive: true, force: true })
})

describe('replay --target local', () => {
  test('--dry-run lists what would be sent and sends nothing', async () => {
    const r = await replayCli('--dry-run', '--reason', 'NOT ACKNOWLEDGED')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /3 dead letters to replay .*reason contains/)
    assert.equal((r.stderr.match(/would replay/g) ?? []).length, 3, 'the --reason filter (case-insensitive) leaves out the poison message')
    await settle()
    assert.deepEqual(withoutSentinels(sub.messages), [])
  })

  test('stored messages reach the subscriber; the poison one stays pending; a second replay sends nothing', async () => {
    const first = await replayCli()
    assert.equal(first.code, 1, 'exit code 1: one message was dead-lettered again')
    assert.deepEqual(JSON.parse(first.stdout.trim().split('\n').at(-1)!), {
      pending: 4,
      replayed: 3,
      deadLetteredAgain: 1,
      failed: 0,
      skipped: 0,
    })
    assert.match(first.stderr, /replay: 4\/4 \(100%\), 3 replayed, 1 dead-lettered again/)
    await settle()
    assert.deepEqual(
      withoutSentinels(sub.messages).map((m) => [m.topic, m.payload.toString()]),
      [
        ['home/roomA/lamp', 'lamp A'],
        ['home/roomB/lamp', 'lamp B'],
        ['home/roomC/lamp', 'lamp C'],
      ],
    )

    const stored = await readDeadLetters(dir)
    assert.equal(stored.filter((e) => e.replayedAt !== undefined).length, 3)
    assert.equal(stored.find((e) => e.messageId === 'P-1')!.replayedAt, undefined)

    const second = await replayCli('--reason', 'not acknowledged')
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(JSON.parse(second.stdout.trim().split('\n').at(-1)!), {
      pending: 0,
      replayed: 0,
      deadLetteredAgain: 0,
      failed: 0,
      skipped: 3,
    })
    await settle()
    assert.equal(withoutSentinels(sub.messages).length, 3, 'nothing sent twice')
  })

  test('a bad flag is refused with the usage line', async () => {
    const r = await replayCli('--target', 'cloud')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--target must be local or fc/)
  })
})
