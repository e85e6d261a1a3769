// npm run replay (scripts/cli/replay.ts, run as the CLI) with --target local: an in-process bridge built
// from the environment delivers stored dead letters to a real broker, exactly as they were received, and
// marks them replayed; what it dead-letters again goes back into the same entry; --discard marks them
// discarded. Each entry is acted on under its turn, so a run that holds it is never raced.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { bundledRules } from '../../functions/bridge/bundled-rules.js'
import { replay } from '../../scripts/cli/replay.js'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { packPoison } from '../../shared/dead-letters/handoff/pack.js'
import type { PoisonPartRecord } from '../../shared/dead-letters/record.js'
import { poisonEntries } from '../../shared/dead-letters/store/entries.js'
import { recognise } from '../../shared/dead-letters/store/intake.js'
import { PART_TTL_MS, storePart, sweepParts } from '../../shared/dead-letters/store/parts.js'
import { DeadLetterStore, type NewEntry, readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, mosquittoInstalled, startAedes, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

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
const appendDeadLetters = (store: string, entries: NewEntry[]) => new DeadLetterStore(store).put(entries)
const entriesOf = (v: unknown, received = Date.now()) => (recognise(v, received, 'x') as { entries: NewEntry[] }).entries

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
    responsePayload: '{"errorMessage":"3 of 3 messages not delivered"}',
  }
  await appendDeadLetters(dir, entriesOf(record))
  await appendDeadLetters(
    dir,
    poisonEntries(
      {
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
      },
      Date.now(),
    ),
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
    const r = await replayCli('--dry-run', '--reason', 'NOT DELIVERED')
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
      notReplayable: 0,
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
    // Dead-lettered again: the same entry, its new reason added to its history, not a new entry.
    assert.equal(stored.length, 4)
    const p1 = stored.find((e) => e.messageId === 'P-1')!
    assert.deepEqual([p1.status, p1.replayedAt, p1.history.length, p1.attempts], ['pending', undefined, 2, 2])
    assert.match(
      first.stderr,
      /not replayed: P-1: dead-lettered again by the bridge: userProperties.qoslevel: .*; the entry keeps its reasons in its history/,
    )

    const second = await replayCli('--reason', 'not delivered')
    assert.equal(second.code, 0, second.stderr)
    assert.deepEqual(JSON.parse(second.stdout.trim().split('\n').at(-1)!), {
      pending: 0,
      replayed: 0,
      deadLetteredAgain: 0,
      failed: 0,
      skipped: 3,
      notReplayable: 0,
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

/** A store of its own for one test. */
function freshStore(): string {
  const d = mkdtempSync(join(tmpdir(), 'replay-own-'))
  stores.push(d)
  return d
}
const stores: string[] = []
after(() => {
  for (const d of stores) rmSync(d, { recursive: true, force: true })
})

/** The CLI against another store than the shared one. */
async function replayOn(store: string, ...args: string[]) {
  const saved = dir
  dir = store
  try {
    return await replayCli(...args)
  } finally {
    dir = saved
  }
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>

describe('replay sends exactly what was received', () => {
  test('an event that arrived as one JSON string is sent as that string: the batch inside it is never published', async () => {
    const store = freshStore()
    const inside = [
      cloudEvent('S-1', 'never one', { mqttSecondTopic: '/roomS/lamp' }),
      cloudEvent('S-2', 'never two', { mqttSecondTopic: '/roomS/lamp' }),
    ]
    const record = {
      timestamp: Date.now(),
      requestContext: { requestId: 'failed-string', condition: 'UnhandledInvocationError', approximateInvokeCount: 4 },
      requestPayload: JSON.stringify(JSON.stringify(inside)),
      responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
      responsePayload: '{"errorMessage":"1 of 1 messages not delivered"}',
    }
    await appendDeadLetters(store, entriesOf(Buffer.from(JSON.stringify(record))))
    const before = sub.messages.length
    const r = await replayOn(store)
    assert.equal(r.code, 1, r.stderr)
    assert.deepEqual(lastJson(r.stdout), { pending: 1, replayed: 0, deadLetteredAgain: 1, failed: 0, skipped: 0, notReplayable: 0 })
    // The bridge got a JSON string, as on the first delivery, and dead-lettered it again, whole: into the same entry.
    const again = await readDeadLetters(store)
    assert.deepEqual(
      again.map((e) => [e.reason, e.event, e.history.length]),
      [['event must be a JSON array or object, got string', JSON.stringify(inside), 2]],
    )
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomS/lamp', qos: 1 }])
    assert.deepEqual(withoutSentinels(sub.messages.slice(before)), [], 'nothing published')
  })

  test('a later report with failedAt "~" does not keep the entry from counting as replayed: three runs deliver it once', async () => {
    const store = freshStore()
    const poison = (requestId: string, failedAt: string) => ({
      kind: 'rocketmq-mqtt-bridge.poison' as const,
      requestId,
      failedAt,
      messages: [
        {
          reason: 'no rule (fixed since)',
          ruleId: 'home-lamps',
          messageId: 'T-1',
          index: 0,
          event: cloudEvent('T-1', 'tilde', { mqttSecondTopic: '/roomT/lamp' }),
        },
      ],
    })
    await appendDeadLetters(store, poisonEntries(poison('bridge-a', '2024-05-01T00:00:00.000Z'), Date.now()))
    await appendDeadLetters(store, poisonEntries(poison('bridge-b', '~'), Date.now()))
    const before = sub.messages.length
    const runs = [await replayOn(store), await replayOn(store), await replayOn(store)]
    assert.deepEqual(
      runs.map((r) => lastJson(r.stdout)['replayed']),
      [1, 0, 0],
    )
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomT/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['tilde'],
    )
  })
})

describe('replay --discard', () => {
  async function threeEntries(): Promise<{ store: string; keys: string[] }> {
    const store = freshStore()
    const messages = ['D-1', 'D-2', 'D-3'].map((id, index) => ({
      reason: index === 2 ? 'payload over the limit' : 'no enabled rule',
      messageId: id,
      index,
      event: cloudEvent(id, `discard ${id}`, { mqttSecondTopic: '/roomD/lamp' }),
    }))
    await appendDeadLetters(
      store,
      poisonEntries({ kind: 'rocketmq-mqtt-bridge.poison', requestId: 'b-d', failedAt: new Date().toISOString(), messages }, Date.now()),
    )
    return { store, keys: (await readDeadLetters(store)).map((e) => e.key) }
  }

  test('--dry-run lists what would be discarded and marks nothing', async () => {
    const { store } = await threeEntries()
    const r = await replayOn(store, '--discard', '--dry-run', '--reason', 'no enabled rule')
    assert.equal(r.code, 0, r.stderr)
    assert.equal((r.stderr.match(/would discard/g) ?? []).length, 2)
    assert.ok((await readDeadLetters(store)).every((e) => e.status === 'pending'))
  })

  test('--key marks that entry discarded (an append-only marker); replay then leaves it alone', async () => {
    const { store, keys } = await threeEntries()
    const entryBytes = readdirSync(store)
      .filter((f) => f.startsWith('dead-letters-'))
      .map((f) => readFileSync(join(store, f), 'utf8'))
      .join('')
    const r = await replayOn(store, '--discard', '--key', keys[0]!, '--note', 'test message, never deliverable')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(lastJson(r.stdout), { pending: 1, discarded: 1, skipped: 0 })
    const stored = await readDeadLetters(store)
    assert.deepEqual(
      stored.map((e) => e.status),
      ['discarded', 'pending', 'pending'],
    )
    assert.equal(
      readdirSync(store)
        .filter((f) => f.startsWith('dead-letters-'))
        .map((f) => readFileSync(join(store, f), 'utf8'))
        .join(''),
      entryBytes,
      'the entries are not rewritten',
    )
    const markers = readdirSync(store)
      .filter((f) => f.startsWith('markers-'))
      .flatMap((f) => readFileSync(join(store, f), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(
      markers.map((m) => [m['marker'], m['key'], m['note']]),
      [['discarded', keys[0], 'test message, never deliverable']],
    )
    const dry = await replayOn(store, '--dry-run')
    assert.match(dry.stderr, /2 dead letters to replay .*; 1 already replayed or discarded/)
  })

  test('--discard of a key the store does not hold exits 1 and says so; the key it does hold is discarded', async () => {
    const { store, keys } = await threeEntries()
    const missing = 'f'.repeat(32)
    const r = await replayOn(store, '--discard', '--key', missing, '--key', keys[1]!)
    assert.equal(r.code, 1)
    assert.match(r.stderr, new RegExp(`no entry with key ${missing} in .*: nothing to discard for it`))
    assert.deepEqual(lastJson(r.stdout), { pending: 1, discarded: 1, skipped: 0, missingKeys: [missing] })
    assert.deepEqual(
      (await readDeadLetters(store)).map((e) => e.status),
      ['pending', 'discarded', 'pending'],
    )
  })

  test('the documented jq recipe lists the same pending entries as the CLI', async () => {
    const { store, keys } = await threeEntries()
    await replayOn(store, '--discard', '--key', keys[1]!)
    const script = readFileSync(join(root, 'docs/operations.md'), 'utf8')
    const recipe = /```sh\n(# Entries still pending[\s\S]*?)```/.exec(script)?.[1]
    assert.ok(recipe, 'docs/operations.md has the pending-entries recipe')
    const { stdout } = await run('sh', ['-c', recipe], { cwd: store })
    assert.deepEqual(stdout.trim().split('\n').sort(), [keys[0], keys[2]].sort())
  })

  test('--help and -h answer with the usage', async () => {
    const r = await replayCli('--help')
    assert.equal(r.code, 0)
    assert.ok(r.stdout.startsWith('usage: npm run replay'), r.stdout)
    assert.match(r.stdout, /--discard +mark the matching entries discarded/)
    assert.match(r.stdout, /--key K/)
    const short = await replayCli('-h')
    assert.deepEqual([short.code, short.stdout], [0, r.stdout])
  })
})

describe('replay sends only what once was a bridge event, as it was received', () => {
  test('a message whose bytes were not valid UTF-8 is dead-lettered lossy by the bridge; replay refuses it and publishes nothing changed', async () => {
    const store = freshStore()
    const bridge = new Bridge(
      loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: `file:${store}`, LOG_LEVEL: 'error' }),
      loadRuleSet(undefined, bundledRules),
    )
    const good = cloudEvent('U-1', 'fine', { mqttSecondTopic: '/roomU/lamp', qoslevel: '1' })
    const bad = cloudEvent('U-2', 'BODY', { mqttSecondTopic: '/roomU/lamp', qoslevel: '1' })
    const [head, tail] = JSON.stringify([good, bad]).split('BODY')
    // 0xFF is never valid UTF-8: decoded, it becomes U+FFFD, and what the store keeps is not what was received.
    const event = Buffer.concat([Buffer.from(head!), Buffer.from([0x41, 0xff, 0x42]), Buffer.from(tail!)])
    const before = sub.messages.length
    try {
      const summary = await bridge.handle(event, fcContext('bridge-lossy'))
      assert.deepEqual([summary.published, summary.deadLettered], [1, 1])
    } finally {
      await bridge.close()
    }
    const [entry] = await readDeadLetters(store)
    assert.deepEqual([entry!.messageId, entry!.source, entry!.lossy], ['U-2', 'bridge-poison', true])

    const r = await replayOn(store)
    assert.equal(r.code, 1, 'not replayed: a person must look at it')
    assert.deepEqual(lastJson(r.stdout), { pending: 0, replayed: 0, deadLetteredAgain: 0, failed: 0, skipped: 0, notReplayable: 1 })
    assert.match(
      r.stderr,
      /not replayable: the bytes received were not valid UTF-8; what is stored is their decoding: [0-9a-f]{32} +U-2 .*lossy/,
    )
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomU/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['fine'],
      'the intact neighbour, published by the bridge; nothing by replay',
    )
    const discard = await replayOn(store, '--discard', '--key', entry!.key)
    assert.deepEqual(lastJson(discard.stdout), { pending: 1, discarded: 1, skipped: 0 }, 'discard still works')
  })

  test('refused parts, unrecognised events and incomplete messages are listed as not replayable and never sent; --discard takes them', async () => {
    const store = freshStore()
    const now = new Date()
    const received = (v: unknown) => entriesOf(Buffer.from(JSON.stringify(v)), now.getTime())
    // A part the function refused, and a bridge event sent to the dead-letter function by mistake.
    const refused = received({ kind: 'rocketmq-mqtt-bridge.poison-part', requestId: 'b', failedAt: 'x', message: {}, part: {} })
    const unrecognised = received(cloudEvent('N-1', 'never sent', { mqttSecondTopic: '/roomN/lamp', qoslevel: '1' }))
    // A message whose parts never all arrived.
    const big = cloudEvent('N-2', 'n'.repeat(9000), { mqttSecondTopic: '/roomN/lamp', qoslevel: '1' })
    const parts = packPoison(
      {
        kind: 'rocketmq-mqtt-bridge.poison',
        requestId: 'b-big',
        failedAt: now.toISOString(),
        messages: [{ index: 0, reason: 'too big', messageId: 'N-2', event: big }],
      },
      4096,
    ) as PoisonPartRecord[]
    await storePart(new DeadLetterStore(store), parts[0]!)
    const incomplete = (await sweepParts(new DeadLetterStore(store, { clock: new FakeClock(now.getTime() + PART_TTL_MS + 60_000) })))
      .entries
    const good = poisonEntries(
      {
        kind: 'rocketmq-mqtt-bridge.poison',
        requestId: 'b-good',
        failedAt: now.toISOString(),
        messages: [
          {
            index: 0,
            reason: 'no rule (fixed since)',
            ruleId: 'home-lamps',
            messageId: 'G-1',
            event: cloudEvent('G-1', 'good', { mqttSecondTopic: '/roomG/lamp', qoslevel: '1' }),
          },
        ],
      },
      now.getTime(),
    )
    await appendDeadLetters(store, [...refused, ...unrecognised, ...incomplete, ...good])
    assert.deepEqual(
      (await readDeadLetters(store)).map((e) => [e.source, e.incomplete ?? false]),
      [
        ['refused-part', false],
        ['unrecognised', false],
        ['bridge-poison', true],
        ['bridge-poison', false],
      ],
    )

    const dry = await replayOn(store, '--dry-run')
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stderr, /^1 dead letter to replay from /)
    assert.match(dry.stderr, /not replayable: a refused-part entry was never a bridge event; discard it: /)
    assert.match(dry.stderr, /not replayable: a unrecognised entry was never a bridge event; discard it: /)
    assert.match(dry.stderr, /not replayable: its parts did not all arrive, or did not fit together; discard it: [0-9a-f]{32} +N-2/)
    assert.equal((dry.stderr.match(/would replay/g) ?? []).length, 1)

    const before = sub.messages.length
    const r = await replayOn(store)
    assert.equal(r.code, 1)
    assert.deepEqual(lastJson(r.stdout), { pending: 1, replayed: 1, deadLetteredAgain: 0, failed: 0, skipped: 0, notReplayable: 3 })
    assert.ok(
      (await readDeadLetters(store)).every((e) => e.history.length === 1),
      'the bridge was sent nothing it dead-lettered again',
    )
    await barrier(
      viaClient(broker.url),
      [sub],
      [
        { topic: 'home/roomG/lamp', qos: 1 },
        { topic: 'home/roomN/lamp', qos: 1 },
      ],
    )
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => [m.topic, m.payload.toString()]),
      [['home/roomG/lamp', 'good']],
    )

    const discard = await replayOn(store, '--discard')
    assert.deepEqual(lastJson(discard.stdout), { pending: 3, discarded: 3, skipped: 1 })
    assert.deepEqual(
      (await readDeadLetters(store)).map((e) => e.status),
      ['discarded', 'discarded', 'discarded', 'replayed'],
    )
  })
})

describe('replay and the turns of entries', () => {
  const env = () => ({ MQTT_URL: broker.url, LOG_LEVEL: 'error', MQTT_PUBLISH_TIMEOUT_MS: '5000' })
  async function oneEntry(id: string): Promise<{ store: string; key: string }> {
    const store = freshStore()
    const message = {
      index: 0,
      reason: 'no rule (fixed since)',
      ruleId: 'home-lamps',
      messageId: id,
      event: cloudEvent(id, `held ${id}`, { mqttSecondTopic: '/roomL/lamp', qoslevel: '1' }),
    }
    const record = {
      kind: 'rocketmq-mqtt-bridge.poison' as const,
      requestId: `b-${id}`,
      failedAt: new Date().toISOString(),
      messages: [message],
    }
    await appendDeadLetters(store, poisonEntries(record, Date.now()))
    return { store, key: (await readDeadLetters(store))[0]!.key }
  }

  test('an entry a redrive run holds is left alone: replay says who holds it, sends nothing, exits 1', async () => {
    const { store, key } = await oneEntry('L-1')
    await new DeadLetterStore(store).takeTurn(key, 'timer-run-1', Date.now() + 3_600_000, 0)
    const printed: string[] = []
    const r = await replay({ dir: store, target: 'local', env: env(), print: (l) => printed.push(l) })
    assert.deepEqual([r.replayed, r.failed], [0, 1])
    assert.match(
      printed.join('\n'),
      /not replayed: L-1: timer-run-1 holds it until [^:]+:\d\d:\d\d\.\d{3}Z: not replayed; run again once it is done/,
    )
    assert.equal((await readDeadLetters(store))[0]!.status, 'pending')
  })

  test('once that turn has ended, replay sends it; its own turn is ended with what became of it', async () => {
    const { store, key } = await oneEntry('L-2')
    const s = new DeadLetterStore(store)
    await s.takeTurn(key, 'timer-run-1', Date.now() + 3_600_000, 0)
    await s.endTurn(key, 1, 'pending')
    const before = sub.messages.length
    const r = await replay({ dir: store, target: 'local', env: env(), print: () => {} })
    assert.equal(r.replayed, 1)
    assert.deepEqual(
      readdirSync(s.keyDir(key))
        .filter((n) => n.startsWith('turn-'))
        .sort(),
      ['turn-1', 'turn-1.pending', 'turn-2', 'turn-2.replayed'],
    )
    await barrier(viaClient(broker.url), [sub], [{ topic: 'home/roomL/lamp', qos: 1 }])
    assert.deepEqual(
      withoutSentinels(sub.messages.slice(before)).map((m) => m.payload.toString()),
      ['held L-2'],
    )
  })
})
