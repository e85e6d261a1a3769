// The poison path end to end, on the BUILT bundles: bridge -> @alicloud/fc2 (2023-03-30, Async) ->
// local invoke server (signature checked) -> dead-letter function -> store. Then what happens when the
// hand-off is refused, replay through @alicloud/fc2 to the served bridge, and the dead-letter function's
// timer redriving batches through the served bridge while its broker is down, and after it is back.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { buildAll } from '../../scripts/build.js'
import { replay } from '../../scripts/cli/replay.js'
import { type LocalFc, startLocalFc } from '../../scripts/local/fc-server.js'
import { recognise } from '../../shared/dead-letters/store/intake.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../shared/dead-letters/store/store.js'
import type { TimerSummary } from '../../shared/dead-letters/store/timer.js'
import { FcInvokeError } from '../../shared/errors.js'
import { FcInvoker } from '../../shared/fc/invoke.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, mosquittoInstalled, startAedes, startMosquitto } from '../helpers/broker.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const SECRET = 'local-secret-7fK2pQ9zR4'
const TOKEN = 'local-sts-token-Wm3xT8vY1'
const creds = { accessKeyId: 'STS.LocalTestKey0001', accessKeySecret: SECRET, securityToken: TOKEN }

/** A CloudEvent for the bundled rule home-lamps (RocketMQ topic TopicName, tag TagA -> MQTT home/...). */
function cloudEvent(id: string, body: string, userProperties: Record<string, string> = { mqttSecondTopic: '/room1/lamp' }) {
  return {
    id: `event-${id}`,
    source: 'RocketMQ-Function-rocketmq-trigger',
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    subject: `acs:mq:cn-hangzhou:1234567890123456:${INSTANCE}%TopicName`,
    time: new Date().toISOString(),
    data: { topic: 'TopicName', systemProperties: { UNIQ_KEY: id, TAGS: 'TagA', INSTANCE_ID: INSTANCE }, userProperties, body },
  }
}

let out: string
let store: string
let broker: Broker
let sub: Subscriber
let fc: LocalFc
let strict: LocalFc | undefined
let client: FcInvoker
const logs: string[] = []
const bridgeModule = () => createRequire(import.meta.url)(join(out, 'bridge', 'index.js')) as { shutdown(): Promise<void> }

before(async () => {
  out = mkdtempSync(join(tmpdir(), 'fc-e2e-dist-'))
  store = mkdtempSync(join(tmpdir(), 'fc-e2e-store-'))
  await buildAll({ outDir: out, quiet: true })
  broker = mosquittoInstalled() ? await startMosquitto() : await startAedes()
  sub = await subscribe(broker.url, ['home/#'], 4)
  Object.assign(process.env, {
    MQTT_URL: broker.url,
    DEAD_LETTER_TARGET: 'fc:dead-letter',
    DEAD_LETTER_DIR: store,
    LOG_LEVEL: 'info',
    MQTT_PUBLISH_TIMEOUT_MS: '5000',
  })
  fc = await startLocalFc({
    functions: [
      { name: 'bridge', dir: join(out, 'bridge'), timeout: 30, onFailure: 'dead-letter', maxAsyncRetryAttempts: 1 },
      { name: 'dead-letter', dir: join(out, 'dead-letter'), timeout: 30, maxAsyncRetryAttempts: 0 },
    ],
    credentials: creds,
    asyncRetryDelayMs: 50,
    log: (l) => logs.push(l),
  })
  process.env['FC_ENDPOINT'] = fc.url
  client = new FcInvoker({ accountId: fc.accountId, region: fc.region, credentials: creds, endpoint: fc.url })
})

after(async () => {
  await bridgeModule().shutdown()
  await strict?.close()
  await fc?.close()
  await sub?.close()
  await broker?.stop()
  rmSync(out, { recursive: true, force: true })
  rmSync(store, { recursive: true, force: true })
})

describe('poison path through Function Compute (local invoke server)', () => {
  test('poison messages reach the store through a signed asynchronous invoke, several per call, the oversized one in parts; none is lost', async () => {
    const good = [cloudEvent('GOOD-1', 'on'), cloudEvent('GOOD-2', 'off')]
    const poison = [
      cloudEvent('BAD-QOS', 'x', { mqttSecondTopic: '/room1/lamp', qoslevel: '3' }),
      cloudEvent('BIG-A', 'a'.repeat(70 * 1024)), // over ApsaraMQ for MQTT's 64 KB: poison
      cloudEvent('BIG-B', 'b'.repeat(70 * 1024)),
      cloudEvent('HUGE', 'h'.repeat(300 * 1024)), // too big for one 128 KB asynchronous invoke
    ]
    const batch = [good[0]!, poison[0]!, poison[1]!, good[1]!, poison[2]!, poison[3]!]
    const result = await client.invoke('bridge', JSON.stringify(batch), 'Sync')
    const summary = result.body as { published: number; deadLettered: number }
    assert.deepEqual([summary.published, summary.deadLettered], [2, 4])
    await sub.waitFor(2)
    await fc.settled()

    const stored = await readDeadLetters(store)
    assert.deepEqual(stored.map((e) => e.messageId).sort(), ['BAD-QOS', 'BIG-A', 'BIG-B', 'HUGE'])
    for (const p of poison) {
      const e = stored.find((s) => s.messageId === p.data.systemProperties.UNIQ_KEY)!
      assert.deepEqual(e.event, JSON.parse(JSON.stringify(p)), `${e.messageId}: the original entry, whole`)
      assert.equal(e.source, 'bridge-poison')
      assert.equal(e.ruleId, 'home-lamps')
    }
    assert.match(stored.find((e) => e.messageId === 'BAD-QOS')!.reason, /qoslevel/)
    const handOffs = fc.invocations.filter((i) => i.functionName === 'dead-letter' && i.type === 'Async')
    assert.ok(handOffs.length >= 5, `several calls (${handOffs.length}): the two 70 KB messages apart, the 300 KB one in parts`)
    assert.ok(handOffs.every((i) => i.outcome === 'ok'))
    assert.equal(fc.invocations.filter((i) => i.outcome === 'refused').length, 0, 'no call over the 128 KB limit or badly signed')
    assert.deepEqual(readdirSync(join(store, 'parts')), [], 'reassembled parts are cleaned up')
  })

  test('a request with a wrong signature is refused with 403 and a clear JSON error', async () => {
    const wrong = new FcInvoker({
      accountId: fc.accountId,
      region: fc.region,
      credentials: { ...creds, accessKeySecret: 'not-the-secret-at-all' },
      endpoint: fc.url,
    })
    await assert.rejects(wrong.invoke('dead-letter', '{}', 'Async'), (err: Error) => {
      assert.ok(err instanceof FcInvokeError)
      assert.match(err.message, /failed with 403.*signature does not match/)
      return true
    })
    const res = await fetch(`${fc.url}/2023-03-30/functions/dead-letter/invocations`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `FC ${creds.accessKeyId}:Zm9yZ2Vk`, date: new Date().toUTCString(), 'x-fc-security-token': TOKEN },
    })
    assert.equal(res.status, 403)
    assert.deepEqual(Object.keys((await res.json()) as object), ['ErrorCode', 'ErrorMessage'])
  })

  test('when the hand-off is refused, the bridge invocation fails with a clear error; retried and routed to onFailure, nothing is dropped', async () => {
    // A Function Compute endpoint that knows the same key ID with another secret: every signature fails.
    strict = await startLocalFc({
      functions: [{ name: 'dead-letter', dir: join(out, 'dead-letter') }],
      credentials: { ...creds, accessKeySecret: 'a-different-secret-1234' },
      log: (l) => logs.push(l),
    })
    await bridgeModule().shutdown() // the next invocation is a new instance that reads FC_ENDPOINT again
    process.env['FC_ENDPOINT'] = strict.url
    const batch = [cloudEvent('KEEP-GOOD', 'fine'), cloudEvent('KEEP-BAD', 'x', { mqttSecondTopic: '/room1/+' })]
    try {
      await assert.rejects(client.invoke('bridge', JSON.stringify(batch), 'Sync'), (err: Error) => {
        assert.ok(err instanceof FcInvokeError)
        assert.equal(err.functionError, 'UnhandledInvocationError')
        assert.match(
          err.message,
          /could not hand 1 dead letter to fc:dead-letter: 1 of 1 asynchronous invoke failed: .*failed with 403.*signature does not match/,
        )
        return true
      })
      // Asynchronously invoked (as the RocketMQ trigger does), the failure is retried, then the batch
      // goes to the onFailure destination: the dead-letter function on the right endpoint. By the
      // verdicts the error carries, it stores the dead letter whose hand-off failed, as poison, and not
      // the message that was delivered.
      await client.invoke('bridge', JSON.stringify(batch), 'Async')
      await fc.settled()
      const stored = (await readDeadLetters(store)).filter((e) => e.source === 'async-destination')
      assert.deepEqual(
        stored.map((e) => [e.messageId, e.failure, e.attempts]),
        [['KEEP-BAD', 'poison', 2]],
      )
      assert.match(stored[0]!.reason, /after 2 attempts: UnhandledInvocationError.*could not hand 1 dead letter.*its hand-off failed/)
      assert.ok(!stored[0]!.reason.includes('[verdicts'))
      assert.deepEqual(stored[0]!.event, JSON.parse(JSON.stringify(batch[1])))
    } finally {
      await bridgeModule().shutdown()
      process.env['FC_ENDPOINT'] = fc.url
    }
  })

  test('no secret (access key secret, STS token) appears in any log line', () => {
    assert.ok(logs.length > 10)
    const all = logs.join('\n')
    assert.ok(!all.includes(SECRET) && !all.includes(TOKEN))
    assert.ok(
      all.includes('[info]') && /^\S+ 1-[0-9a-f]+-[0-9a-f]+ \[info\] /m.test(all),
      'context.logger prints time requestId [level] message',
    )
  })
})

describe('cold path', () => {
  test('loading the bridge bundle does not evaluate @alicloud/fc2 (it is imported on the first hand-off)', (t) => {
    // @alicloud/fc2 pulls in urllib and ali-oss, which load these built-in modules; the bridge alone does not.
    const script = `const t = process.hrtime.bigint(); require(${JSON.stringify(join(out, 'bridge', 'index.js'))}); const ms = Number(process.hrtime.bigint() - t) / 1e6; console.log(JSON.stringify({ ms, modules: process.moduleLoadList }))`
    const { ms, modules } = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: tmpdir() }).toString()) as {
      ms: number
      modules: string[]
    }
    t.diagnostic(`bridge bundle loads in ${ms.toFixed(1)} ms`)
    for (const m of ['NativeModule zlib', 'NativeModule child_process', 'NativeModule dgram'])
      assert.ok(!modules.includes(m), `${m} is not loaded with the bridge`)
  })
})

describe('replay through @alicloud/fc2 to the served bridge', () => {
  test('stored messages are delivered by a synchronous invoke and marked; a second replay sends nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-e2e-replay-'))
    const batch = [cloudEvent('R-1', 'replayed one'), cloudEvent('R-2', 'replayed two')]
    const record = {
      timestamp: Date.now(),
      requestContext: { requestId: 'failed-req', condition: 'UnhandledInvocationError', approximateInvokeCount: 4 },
      requestPayload: JSON.stringify(batch),
      responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
      responsePayload: '{"errorMessage":"broker down"}',
    }
    await new DeadLetterStore(dir).put((recognise(record, Date.now(), 'x') as { entries: NewEntry[] }).entries)
    const env = {
      ALIBABA_CLOUD_ACCESS_KEY_ID: creds.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
      ALIBABA_CLOUD_SECURITY_TOKEN: TOKEN,
      ALIBABA_CLOUD_ACCOUNT_ID: fc.accountId,
      ALIBABA_CLOUD_REGION: fc.region,
      FC_ENDPOINT: fc.url,
    }
    const printed: string[] = []
    const before = sub.messages.length
    try {
      const first = await replay({ dir, target: 'fc', functionName: 'bridge', env, print: (l) => printed.push(l) })
      assert.deepEqual([first.pending, first.replayed, first.failed], [2, 2, 0])
      await sub.waitFor(before + 2)
      assert.deepEqual(
        sub.messages.slice(before).map((m) => m.payload.toString()),
        ['replayed one', 'replayed two'],
      )
      const second = await replay({ dir, target: 'fc', functionName: 'bridge', env, print: (l) => printed.push(l) })
      assert.deepEqual([second.pending, second.replayed, second.skipped], [0, 0, 2])
      // A sentinel on each lane the replay used: once it is in, anything the replay sent is too (helpers/barrier.ts).
      await barrier(viaClient(broker.url), [sub], sub.messages.slice(before))
      assert.equal(withoutSentinels(sub.messages.slice(before)).length, 2, 'nothing sent twice')
      assert.ok(
        printed.some((l) => /^replay: 2\/2 \(100%\)/.test(l)),
        'progress is shown',
      )
      assert.ok(!printed.join('\n').includes(SECRET))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('redrive: the timer trigger, with the broker down and then back', () => {
  test('batches that failed while the broker was down are delivered by the timer once it is back, each after its backoff; poison entries are left alone', async () => {
    // A broker of its own, which goes down; the bridge's next instance reads MQTT_URL again.
    const down = mosquittoInstalled() ? await startMosquitto() : await startAedes()
    await down.stop()
    const savedUrl = process.env['MQTT_URL']
    await bridgeModule().shutdown()
    Object.assign(process.env, { MQTT_URL: down.url, DEAD_LETTER_BRIDGE_FUNCTION: 'bridge', MQTT_PUBLISH_TIMEOUT_MS: '1000' })
    const timer = async () => {
      const event = JSON.stringify({ triggerTime: new Date().toISOString(), triggerName: 'redrive', payload: 'redrive' })
      return (await client.invoke('dead-letter', event, 'Sync')).body as TimerSummary
    }
    // As the RocketMQ trigger invokes it: asynchronously; retried, then routed to the dead-letter function.
    const failBatch = async (ids: string[]) => {
      const batch = ids.map((id) => cloudEvent(id, `during the outage ${id}`, { mqttSecondTopic: '/roomO/lamp' }))
      await client.invoke('bridge', JSON.stringify(batch), 'Async')
      await fc.settled()
    }
    const mine = async (prefix: string) => (await readDeadLetters(store)).filter((e) => e.messageId?.startsWith(prefix))
    let devices: Subscriber | undefined
    try {
      await failBatch(['OUT-1', 'OUT-2'])
      assert.deepEqual(
        (await mine('OUT-')).map((e) => [e.messageId, e.source, e.failure]),
        [
          ['OUT-1', 'async-destination', 'transient'],
          ['OUT-2', 'async-destination', 'transient'],
        ],
      )
      const first = await timer()
      assert.deepEqual([first.redrive.tried, first.redrive.replayed, first.redrive.stillFailing], [2, 0, 2], JSON.stringify(first))
      const line = logs.find((l) => l.includes('"event":"dead-letter.redrive"'))
      assert.ok(line, 'one summary line per run')
      assert.match(line, /"tried":2,"replayed":0,"stillFailing":2,"expired":0/)
      for (const e of await mine('OUT-')) assert.match(e.redrive?.lastError ?? '', /not delivered/, 'it failed because the broker is down')

      // A second batch fails while the broker is still down; redrive has not tried it yet.
      await failBatch(['LATE-1'])
      await down.start()
      devices = await subscribe(down.url, ['home/#'], 4)
      // Back: the batch never tried goes now; the first waits out its backoff (DEAD_LETTER_REDRIVE_BACKOFF, 5 minutes).
      const second = await timer()
      assert.deepEqual(
        [second.redrive.tried, second.redrive.replayed, second.redrive.stillFailing, second.redrive.waiting],
        [1, 1, 0, 2],
        JSON.stringify(second),
      )
      await devices.waitFor(1)
      assert.deepEqual(
        devices.messages.map((m) => [m.topic, m.payload.toString()]),
        [['home/roomO/lamp', 'during the outage LATE-1']],
      )
      assert.deepEqual(
        (await mine(''))
          .filter((e) => e.source === 'async-destination' && /^(OUT|LATE)-/.test(e.messageId!))
          .map((e) => [e.messageId, e.status]),
        [
          ['OUT-1', 'pending'],
          ['OUT-2', 'pending'],
          ['LATE-1', 'replayed'],
        ],
      )
      const poison = (await readDeadLetters(store)).filter((e) => e.source === 'bridge-poison')
      assert.ok(poison.length >= 4)
      assert.ok(
        poison.every((e) => e.status === 'pending' && e.redrive === undefined),
        'poison entries are never redriven',
      )
      const third = await timer()
      assert.deepEqual([third.redrive.tried, third.redrive.waiting], [0, 2], 'nothing sent before its next attempt')
      await barrier(viaClient(down.url), [devices], devices.messages)
      assert.equal(withoutSentinels(devices.messages).length, 1, 'nothing sent twice')
    } finally {
      await devices?.close()
      await bridgeModule().shutdown()
      process.env['MQTT_URL'] = savedUrl
      delete process.env['DEAD_LETTER_BRIDGE_FUNCTION']
      process.env['MQTT_PUBLISH_TIMEOUT_MS'] = '5000'
      await down.stop()
    }
  })
})
