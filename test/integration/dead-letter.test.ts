// The dead-letter function's handler against a real file system: the destination path, redelivery,
// hostile records (each item on its own), a store that cannot be written, and file-system calls that
// would outlive the invocation.

import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { handler } from '../../functions/dead-letter/index.js'
import { deadLettered, type MessageResult } from '../../shared/bridge/records.js'
import { summarize } from '../../shared/bridge/summary.js'
import { loadDeadLetterConfig } from '../../shared/config/dead-letter.js'
import { packPoison } from '../../shared/dead-letters/handoff/pack.js'
import { createDeadLetterSink } from '../../shared/dead-letters/handoff/sink.js'
import type { PoisonPartRecord } from '../../shared/dead-letters/record.js'
import { handleDeadLetterEvent, type IntakeSummary } from '../../shared/dead-letters/store/intake.js'
import { partGroup } from '../../shared/dead-letters/store/parts.js'
import { PROCESS_WRITER, readDeadLetters, storeFileName } from '../../shared/dead-letters/store/store.js'
import type { TimerSummary } from '../../shared/dead-letters/store/timer.js'
import { DeadLetterError } from '../../shared/errors.js'
import type { FcContext } from '../../shared/fc/context.js'
import { loadFc2 } from '../../shared/fc/invoke.js'
import { invocationLogger } from '../../shared/logging/logger.js'
import type { Publish } from '../../shared/mapping/publish.js'

const root = mkdtempSync(join(tmpdir(), 'dl-int-'))
const lines: string[] = []
const savedDir = process.env['DEAD_LETTER_DIR']

/** The handler with a store event: what it returns is the intake summary. */
const intake = async (event: unknown, ctx: FcContext) => (await handler(event, ctx)) as IntakeSummary

function context(requestId: string, timeout = 30): FcContext {
  const log = (level: string) => (message: string) => void lines.push(`${requestId} [${level}] ${message}`)
  return {
    requestId,
    function: { name: 'dead-letter', timeout },
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  }
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/fc-async-destination-failure.json', import.meta.url), 'utf8')) as {
  requestPayload: string
  requestContext: { requestId: string }
}
const sampleEntry = (JSON.parse(fixture.requestPayload) as Array<{ data: { systemProperties: Record<string, unknown>; body: string } }>)[0]!

/** The sample record with a batch of three messages (distinct IDs) in its request payload. */
function threeMessageRecord(): { record: typeof fixture; batch: unknown[] } {
  const batch = ['M-1', 'M-2', 'M-3'].map((id, i) => ({
    ...sampleEntry,
    id: `event-${i}`,
    data: { ...sampleEntry.data, body: `body ${i}`, systemProperties: { ...sampleEntry.data.systemProperties, UNIQ_KEY: id } },
  }))
  return { record: { ...fixture, requestPayload: JSON.stringify(batch) }, batch }
}

/** Every file of the store (entries, markers, the key index), name and content. */
const storeBytes = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .sort()
    .map((f) => `${f}\n${readFileSync(f, 'utf8')}`)
    .join('\u0000')

/** A batch entry for the bundled rule home-lamps. */
const good = (id: string) => ({
  ...sampleEntry,
  id: `event-${id}`,
  data: { ...sampleEntry.data, body: `body ${id}`, systemProperties: { ...sampleEntry.data.systemProperties, UNIQ_KEY: id } },
})
const deepText = (n: number) => '['.repeat(n) + ']'.repeat(n)

/** A destination record whose failed event is `payload` (text, as Function Compute sends it). */
const destination = (payload: string, extra: Record<string, unknown> = {}) => ({ ...fixture, requestPayload: payload, ...extra })

/** These tests fail instead of hanging (the old store's mkdir retried ENOENT for ever): node:test's timeout. */
const BOUNDED = { timeout: 20_000 }

before(() => {
  lines.length = 0
})

after(() => {
  if (savedDir === undefined) delete process.env['DEAD_LETTER_DIR']
  else process.env['DEAD_LETTER_DIR'] = savedDir
  rmSync(root, { recursive: true, force: true })
})

describe('dead-letter function: asynchronous-destination records', () => {
  test('the sample record (as Function Compute passes it, a Buffer) is stored as one entry per message; delivering it again adds nothing', async () => {
    const dir = join(root, 'sample')
    process.env['DEAD_LETTER_DIR'] = dir
    const body = Buffer.from(JSON.stringify(fixture))
    const first = await intake(body, context('dl-1'))
    assert.deepEqual([first.kind, first.received, first.stored], ['destination', 1, 1])
    const before = storeBytes(dir)
    const second = await intake(body, context('dl-2'))
    assert.deepEqual([second.stored, second.duplicates], [0, 1])
    assert.equal(storeBytes(dir), before, 'the store is byte-for-byte unchanged')
    const [entry] = await readDeadLetters(dir)
    assert.equal(
      entry!.reason,
      'asynchronous invocation failed after 4 attempts: UnhandledInvocationError, UnhandledInvocationError: 1 of 1 messages not acknowledged by the MQTT broker',
    )
    assert.deepEqual(entry!.event, sampleEntry)
    assert.ok(
      lines.some((l) => l.startsWith('dl-1 [info]') && l.includes('"event":"dead-letter.stored"') && l.includes('"outcome":"stored"')),
      'one log line per stored message',
    )
  })

  test('a batch of three is three entries, each with the reason and its own original entry, keyed by request ID and message ID', async () => {
    const dir = join(root, 'three')
    process.env['DEAD_LETTER_DIR'] = dir
    const { record, batch } = threeMessageRecord()
    await intake(Buffer.from(JSON.stringify(record)), context('dl-3'))
    await intake(Buffer.from(JSON.stringify(record)), context('dl-4'))
    const stored = await readDeadLetters(dir)
    assert.deepEqual(
      stored.map((e) => e.messageId),
      ['M-1', 'M-2', 'M-3'],
    )
    stored.forEach((e, i) => {
      assert.deepEqual(e.event, batch[i])
      assert.equal(e.requestId, fixture.requestContext.requestId)
      assert.equal(e.condition, 'UnhandledInvocationError')
      assert.equal(e.attempts, 4)
    })
    // The same messages in another failed invocation are the same dead letters, failed again.
    const other = { ...record, requestContext: { ...record.requestContext, requestId: 'another-request' } }
    const summary = await intake(Buffer.from(JSON.stringify(other)), context('dl-5'))
    assert.deepEqual([summary.stored, summary.failedAgain], [0, 3], 'each message once, its attempts raised')
    assert.deepEqual(
      (await readDeadLetters(dir)).map((e) => [e.messageId, e.attempts, e.history.length]),
      [
        ['M-1', 8, 2],
        ['M-2', 8, 2],
        ['M-3', 8, 2],
      ],
    )
  })

  test("after an outage each member goes by the bridge's own verdict: only what still needs delivering is stored, each once", async () => {
    const dir = join(root, 'outage')
    process.env['DEAD_LETTER_DIR'] = dir
    const batch = ['O-0', 'O-1', 'O-2', 'O-3', 'O-4', 'O-5'].map(good)
    // The bridge's last attempt: O-0 published, O-1 filtered on purpose, O-2 poison (handed off and
    // stored), O-3 and O-4 never acknowledged, O-5 delivered by an earlier attempt.
    const publish = (index: number) => ({ index, ruleId: 'home-lamps' }) as Publish
    const results: MessageResult[] = [
      { status: 'published', publish: publish(0) },
      { status: 'filtered', index: 1, ruleId: 'home-lamps' },
      deadLettered({ index: 2, reason: 'payload too large', ruleId: 'home-lamps', messageId: 'O-2' }, batch[2]),
      { status: 'failed', publish: publish(3), reason: 'broker went away' },
      { status: 'failed', publish: publish(4), reason: 'broker went away' },
      { status: 'duplicate', index: 5, ruleId: 'home-lamps', seen: 'by this instance' },
    ]
    const input = { requestId: 'b', received: 6, results, startedAt: 0, publishedAt: 0, finishedAt: 0, oldestTime: undefined }
    const { decision } = summarize({ ...input, droppedV5Properties: 0, sent: 3, redact: (t) => t })
    assert.equal(decision.outcome, 'retry')
    const error = (decision as { error: Error }).error
    const poison = { kind: 'rocketmq-mqtt-bridge.poison', requestId: 'b', failedAt: new Date(0).toISOString() }
    await intake(
      Buffer.from(JSON.stringify({ ...poison, messages: [(results[2] as { deadLetter: unknown }).deadLetter] })),
      context('dl-o1'),
    )
    const responsePayload = JSON.stringify({ errorType: error.name, errorMessage: error.message })
    const summary = await intake(Buffer.from(JSON.stringify(destination(JSON.stringify(batch), { responsePayload }))), context('dl-o2'))
    assert.deepEqual([summary.received, summary.stored, summary.failedAgain], [2, 2, 0])
    const stored = await readDeadLetters(dir)
    assert.deepEqual(
      stored.map((e) => [e.messageId, e.source, e.failure, e.history.length]),
      [
        ['O-2', 'bridge-poison', 'poison', 1],
        ['O-3', 'async-destination', 'transient', 1],
        ['O-4', 'async-destination', 'transient', 1],
      ],
    )
    assert.ok(!stored[1]!.reason.includes('[verdicts'), 'the ledger is not part of the reason a person reads')
    assert.match(stored[1]!.reason, /2 of 3 messages not delivered: 2 × broker went away/)
  })

  test('a dead letter whose hand-off failed is stored as poison; a ledger of another batch size stores every member, noted', async () => {
    const dir = join(root, 'outage-handoff')
    process.env['DEAD_LETTER_DIR'] = dir
    const batch = ['H-0', 'H-1'].map(good)
    const results: MessageResult[] = [
      deadLettered({ index: 0, reason: 'payload too large', ruleId: 'home-lamps', messageId: 'H-0' }, batch[0]),
      { status: 'failed', publish: { index: 1, ruleId: 'home-lamps' } as Publish, reason: 'broker went away' },
    ]
    const input = { requestId: 'b', received: 2, results, startedAt: 0, publishedAt: 0, finishedAt: 0, oldestTime: undefined }
    const handOffError = new DeadLetterError('fc:dead-letter', 1, new Error('throttled'))
    const { decision } = summarize({ ...input, droppedV5Properties: 0, sent: 1, handOffError, redact: (t) => t })
    const message = (decision as { error: Error }).error.message
    assert.match(message, /\[verdicts v1 ht\]$/)
    const send = (payload: string, errorMessage: string) =>
      intake(
        Buffer.from(
          JSON.stringify(destination(payload, { responsePayload: JSON.stringify({ errorType: 'DeliveryError', errorMessage }) })),
        ),
        context('dl-h'),
      )
    await send(JSON.stringify(batch), message)
    assert.deepEqual(
      (await readDeadLetters(dir)).map((e) => [e.messageId, e.failure]),
      [
        ['H-0', 'poison'],
        ['H-1', 'transient'],
      ],
    )
    const three = ['H-2', 'H-3', 'H-4'].map(good)
    assert.equal((await send(JSON.stringify(three), message)).stored, 3)
    const noted = (await readDeadLetters(dir)).filter((e) => e.messageId !== 'H-0' && e.messageId !== 'H-1')
    assert.ok(noted.every((e) => /the bridge's verdicts name 2 messages, the event holds 3/.test(e.note ?? '')))
  })
})

describe('dead-letter function: a store that cannot be written', () => {
  test('a DEAD_LETTER_DIR under a regular file (fails even for root) makes the function throw, not succeed', async () => {
    // chmod does not stop root; a path whose parent is a regular file fails with ENOTDIR for everyone.
    const file = join(root, 'a-file')
    writeFileSync(file, 'not a directory')
    process.env['DEAD_LETTER_DIR'] = join(file, 'sub')
    await assert.rejects(intake(Buffer.from(JSON.stringify(fixture)), context('dl-6')), (err: Error) => {
      assert.equal(err.name, 'DeadLetterStoreError')
      assert.match(err.message, /could not store 1 dead letter in .*a-file\/sub: .*ENOTDIR/)
      assert.match(err.message, /Function Compute retries it/)
      return true
    })
    const failed = lines.find((l) => l.startsWith('dl-6 [error]') && l.includes('dead-letter.store-failed'))
    assert.ok(failed)
    // Should Function Compute's retries run out as well, this line says which messages were lost.
    const line = JSON.parse(failed.slice(failed.indexOf('{'))) as { messages: Array<Record<string, unknown>> }
    assert.deepEqual(line.messages, [
      {
        messageId: 'AC14C305069E1B28CA003E5A7B5E0001',
        ruleId: null,
        failedRequestId: fixture.requestContext.requestId,
        reason:
          'asynchronous invocation failed after 4 attempts: UnhandledInvocationError, UnhandledInvocationError: 1 of 1 messages not acknowledged by the MQTT broker',
      },
    ])
  })
})

describe('dead-letter function: each hostile item on its own', () => {
  const use = (name: string) => {
    const dir = join(root, name)
    process.env['DEAD_LETTER_DIR'] = dir
    return dir
  }

  test('a batch entry nested 5,000 deep is kept as its exact text; its neighbours are stored as usual', async () => {
    const dir = use('deep-entry')
    const payload = `[${JSON.stringify(good('N-1'))}, ${deepText(5000)} ,${JSON.stringify(good('N-2'))}]`
    const summary = await intake(Buffer.from(JSON.stringify(destination(payload))), context('dl-deep'))
    assert.equal(summary.stored, 3)
    const stored = await readDeadLetters(dir)
    assert.deepEqual(
      stored.map((e) => e.messageId ?? null),
      ['N-1', null, 'N-2'],
    )
    assert.deepEqual(stored[0]!.event, good('N-1'))
    assert.equal(stored[1]!.event, deepText(5000), 'the raw text of the entry, exactly')
    assert.equal(stored[1]!.eventText, true)
    assert.match(stored[1]!.note ?? '', /cannot be kept as JSON, it is nested deeper than 100 levels/)
  })

  test('a poison record with one message nested 5,000 deep: the other messages are stored as usual', async () => {
    const dir = use('deep-poison')
    const messages = ['P-1', 'P-2', 'P-3'].map((id, index) => ({
      index,
      reason: `bad ${id}`,
      ruleId: 'home-lamps',
      messageId: id,
      event: good(id),
    }))
    const text = JSON.stringify({
      kind: 'rocketmq-mqtt-bridge.poison',
      requestId: 'b-1',
      failedAt: new Date().toISOString(),
      messages,
    }).replace(JSON.stringify(good('P-2')), deepText(5000))
    await intake(Buffer.from(text), context('dl-deep-poison'))
    const stored = await readDeadLetters(dir)
    assert.deepEqual(
      stored.map((e) => [e.messageId, e.source]),
      [
        ['P-1', 'bridge-poison'],
        ['P-2', 'bridge-poison'],
        ['P-3', 'bridge-poison'],
      ],
    )
    assert.equal(stored[1]!.event, deepText(5000))
    assert.deepEqual(stored[2]!.event, good('P-3'))
  })

  test('an unrecognised event nested 5,000 deep is stored as the text it was', async () => {
    const dir = use('deep-unrecognised')
    const text = `{"x":${deepText(5000)}}`
    await intake(Buffer.from(text), context('dl-deep-other'))
    const [entry] = await readDeadLetters(dir)
    assert.deepEqual([entry!.source, entry!.event, entry!.eventText, entry!.wholeEvent], ['unrecognised', text, true, true])
  })

  test('a destination record with timestamp 1e20 and a bad invoke count is stored, with a note, at the time it was received', async () => {
    const dir = use('bad-time')
    const before = Date.now()
    const record = destination(fixture.requestPayload, {
      timestamp: 1e20,
      requestContext: { ...fixture.requestContext, approximateInvokeCount: -5 },
    })
    const summary = await intake(Buffer.from(JSON.stringify(record)), context('dl-time'))
    assert.equal(summary.stored, 1)
    const [entry] = await readDeadLetters(dir)
    assert.ok(Date.parse(entry!.firstFailureAt) >= before - 1000)
    assert.equal(entry!.attempts, 1)
    assert.match(entry!.note ?? '', /timestamp 100000000000000000000 is not a usable time/)
    assert.match(entry!.note ?? '', /approximateInvokeCount -5 is not a whole number/)
  })

  test('a poison record with wrong types in one message keeps its other messages as their own entries', async () => {
    const dir = use('wrong-types')
    const record = {
      kind: 'rocketmq-mqtt-bridge.poison',
      requestId: 'b-2',
      failedAt: '~',
      messages: [
        { index: 0, reason: 'bad qos', ruleId: 'home-lamps', messageId: 'W-1', event: good('W-1') },
        { index: 'one', reason: 42, ruleId: ['x'], messageId: { id: 1 }, event: good('W-2') },
        { index: 2, reason: 'bad topic', ruleId: 'home-lamps', messageId: 'W-3', event: good('W-3') },
      ],
    }
    await intake(Buffer.from(JSON.stringify(record)), context('dl-types'))
    const stored = await readDeadLetters(dir)
    assert.deepEqual(
      stored.map((e) => [e.source, e.messageId ?? null, e.reason]),
      [
        ['bridge-poison', 'W-1', 'bad qos'],
        ['bridge-poison', null, 'a poison message (the record gave no reason)'],
        ['bridge-poison', 'W-3', 'bad topic'],
      ],
    )
    assert.deepEqual(stored[1]!.event, good('W-2'), 'the bad message is still kept whole')
    assert.match(stored[1]!.note ?? '', /reason 42 is not text/)
    assert.match(stored[0]!.note ?? '', /failedAt "~" is not a usable time/)
  })

  test('a number JSON cannot write back (1e400) is kept as the text it was, not as null', async () => {
    const dir = use('huge-number')
    const entry = JSON.stringify(good('H-1')).replace('"body":"body H-1"', '"body":"x","n":1e400')
    await intake(Buffer.from(JSON.stringify(destination(`[${entry}]`))), context('dl-number'))
    const [stored] = await readDeadLetters(dir)
    assert.equal(stored!.event, entry)
    assert.equal(stored!.messageId, 'H-1')
  })

  test('the same IDs with other content are another dead letter: destination keys fingerprint the content', async () => {
    const dir = use('same-ids')
    await intake(Buffer.from(JSON.stringify(destination(JSON.stringify([good('S-1')])))), context('dl-s1'))
    const changed = { ...good('S-1'), data: { ...good('S-1').data, body: 'other content' } }
    const summary = await intake(Buffer.from(JSON.stringify(destination(JSON.stringify([changed])))), context('dl-s2'))
    assert.equal(summary.stored, 1, 'not taken for the first one')
    assert.equal((await readDeadLetters(dir)).length, 2)
  })

  test('an event that arrived as one JSON string is kept whole, as that string', async () => {
    const dir = use('string-event')
    const payload = JSON.stringify(JSON.stringify([good('J-1'), good('J-2')]))
    await intake(Buffer.from(JSON.stringify(destination(payload))), context('dl-string'))
    const stored = await readDeadLetters(dir)
    assert.equal(stored.length, 1)
    assert.equal(stored[0]!.event, JSON.parse(payload))
    assert.equal(stored[0]!.wholeEvent, true)
    assert.equal(stored[0]!.eventText, undefined, 'a JSON value (a string), not raw text')
  })
})

describe('dead-letter function: every file-system call under the deadline', () => {
  test('DEAD_LETTER_DIR=/proc/nope fails at once with a clear error, instead of hanging', BOUNDED, async () => {
    process.env['DEAD_LETTER_DIR'] = '/proc/nope/dead-letters'
    await assert.rejects(intake(Buffer.from(JSON.stringify(fixture)), context('dl-proc', 6)), (err: Error) => {
      assert.equal(err.name, 'DeadLetterStoreError')
      assert.match(err.message, /cannot create \/proc\/nope: the file system refuses it/)
      return true
    })
  })

  test("the bridge's file: target on /proc/nope fails the hand-off at once, with a clear error", BOUNDED, async () => {
    const sink = createDeadLetterSink({ kind: 'file', dir: '/proc/nope', ephemeral: false })
    const record = { kind: 'rocketmq-mqtt-bridge.poison' as const, requestId: 'b', failedAt: new Date().toISOString(), messages: [] }
    await assert.rejects(
      sink.send(
        { ...record, messages: [{ index: 0, reason: 'x', event: {} }] },
        { context: context('bridge-proc', 6), deadline: Date.now() + 5400 },
      ),
      (err: Error) => {
        assert.equal(err.name, 'DeadLetterError')
        assert.match(err.message, /could not hand 1 dead letter to file:\/proc\/nope: cannot create \/proc\/nope/)
        return true
      },
    )
  })

  // The invocation's deadline is real time here (the handler as Function Compute calls it, with a 1 s
  // timeout); that the call ends exactly at it, not before, is tested on a clock moved by hand in
  // test/unit/dead-letters/bounded-fs.test.ts. A FIFO nobody writes never ends on its own: the error proves the bound.
  test(
    'a call that hangs (a FIFO no one writes, as a hung NAS mount) fails the invocation by its deadline, saying which call',
    BOUNDED,
    async () => {
      const dir = join(root, 'hung')
      process.env['DEAD_LETTER_DIR'] = dir
      const [part] = packPoison(
        {
          kind: 'rocketmq-mqtt-bridge.poison',
          requestId: 'b-hung',
          failedAt: new Date().toISOString(),
          messages: [{ index: 0, reason: 'too big', event: { data: { body: 'z'.repeat(5000) } } }],
        },
        4096,
      ) as PoisonPartRecord[]
      const groupDir = join(dir, 'parts', partGroup(part!))
      mkdirSync(groupDir, { recursive: true })
      const fifo = join(groupDir, 'meta.json')
      execFileSync('mkfifo', [fifo])
      try {
        await assert.rejects(intake(Buffer.from(JSON.stringify(part)), context('dl-hung', 1)), (err: Error) => {
          assert.equal(err.name, 'DeadLetterStoreError')
          assert.match(err.message, /read .*meta\.json did not finish within the \d+ ms left before the invocation's deadline/)
          return true
        })
      } finally {
        // Let the blocked read finish, so the thread it holds is freed.
        closeSync(openSync(fifo, 'w'))
      }
    },
  )

  test(
    'a call that hangs after its file is open (a write into a full FIFO) fails the invocation by its deadline, and so does the next',
    BOUNDED,
    async () => {
      const dir = join(root, 'hung-write')
      mkdirSync(dir, { recursive: true })
      process.env['DEAD_LETTER_DIR'] = dir
      // The file this process appends entries to today: opened read-write it does not block, but a write of
      // more than the pipe's 64 KB does, as a write to a hung NAS mount does.
      const fifo = join(dir, storeFileName('dead-letters', Date.now(), PROCESS_WRITER))
      execFileSync('mkfifo', [fifo])
      const big = destination(JSON.stringify([{ ...good('BIG-1'), data: { ...good('BIG-1').data, body: 'z'.repeat(100_000) } }]))
      try {
        for (const [requestId, event] of [
          ['dl-hung-write', big],
          ['dl-hung-write-2', fixture],
        ] as const)
          await assert.rejects(intake(Buffer.from(JSON.stringify(event)), context(requestId, 1)), (err: Error) => {
            assert.equal(err.name, 'DeadLetterStoreError')
            assert.match(err.message, /dead-letters-[^ ]*\.jsonl did not finish within the \d+ ms left before the invocation's deadline/)
            return true
          })
      } finally {
        // Read the FIFO until the blocked writes end and their handles close, so the threads they hold are freed.
        await new Promise((resolve) => spawn('cat', [fifo], { stdio: 'ignore' }).on('exit', resolve))
      }
    },
  )
})

describe("the bridge's fc: hand-off under the invocation's deadline", () => {
  test(
    'calls that never answer: none starts after the deadline, each is cut at it, and the error says how many were not handed off',
    BOUNDED,
    async () => {
      // A Function Compute endpoint that takes each asynchronous invoke and never answers: twelve 70 KB
      // messages are twelve calls, four at a time. Without the deadline the first four would wait 10 s each.
      let received = 0
      const server = createServer((req) => {
        req.resume()
        req.on('end', () => void received++)
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const sink = createDeadLetterSink({ kind: 'fc', functionName: 'dead-letter', endpoint })
      const messages = Array.from({ length: 12 }, (_, i) => ({
        index: i,
        reason: 'too big',
        messageId: `M${i}`,
        event: { body: 'x'.repeat(70 * 1024) },
      }))
      const ctx = {
        ...context('bridge-slow-fc'),
        credentials: { accessKeyId: 'id', accessKeySecret: 'secret-xyz' },
        accountId: '1',
        region: 'cn-hangzhou',
      }
      // Loaded first, so a loaded machine spends the second below on the calls, not on loading @alicloud/fc2.
      await loadFc2()
      try {
        const record = { kind: 'rocketmq-mqtt-bridge.poison' as const, requestId: 'r', failedAt: new Date().toISOString(), messages }
        await assert.rejects(sink.send(record, { context: ctx, deadline: Date.now() + 1000 }), (err: Error) => {
          assert.equal(err.name, 'DeadLetterError')
          const m =
            /could not hand 12 dead letters to fc:dead-letter: (\d+) of 12 payloads not handed off: the invocation's deadline passed/.exec(
              err.message,
            )
          assert.ok(m, err.message)
          const cut = /(\d+) of 12 asynchronous invokes failed: .*did not answer within \d+ ms/.exec(err.message)
          assert.ok(cut, `the calls cut at the deadline: ${err.message}`)
          assert.equal(Number(m[1]) + Number(cut[1]), 12, 'every payload was either cut at the deadline or never started')
          assert.ok(received > 0 && Number(cut[1]) <= 4, 'at most the four calls in flight were started')
          assert.ok(!err.message.includes('secret-xyz'))
          return true
        })
      } finally {
        server.closeAllConnections()
        server.close()
      }
    },
  )
})

describe('dead-letter function: its timer', () => {
  const tick = () => Buffer.from(JSON.stringify({ triggerTime: new Date().toISOString(), triggerName: 'redrive', payload: 'redrive' }))

  test('the timer event is not stored: it runs redrive and retention, even on a store with no dead letter yet', async () => {
    const dir = join(root, 'timer-fresh', 'store')
    process.env['DEAD_LETTER_DIR'] = dir
    const summary = (await handler(tick(), context('dl-timer'))) as TimerSummary
    assert.equal(summary.kind, 'timer')
    assert.deepEqual([summary.redrive.tried, summary.partsExpired, summary.retention?.removedEntries], [0, 0, 0])
    assert.deepEqual(await readDeadLetters(dir), [], 'nothing stored')
    assert.ok(lines.some((l) => l.startsWith('dl-timer [info]') && l.includes('"event":"dead-letter.redrive"') && l.includes('"tried":0')))
    assert.ok(lines.some((l) => l.startsWith('dl-timer [info]') && l.includes('"event":"dead-letter.retention"')))
  })

  test("handled without a deadline, the timer takes the invocation's own: redrive runs, since its turns need an end", async () => {
    const dir = join(root, 'timer-no-deadline')
    const ctx = context('dl-timer-nd', 10)
    const summary = (await handleDeadLetterEvent(
      loadDeadLetterConfig({ DEAD_LETTER_DIR: dir }),
      tick(),
      ctx,
      invocationLogger('info', ctx).log,
    )) as TimerSummary
    assert.deepEqual([summary.kind, summary.redrive.skipped, summary.redrive.tried], ['timer', undefined, 0])
  })

  test('a timer run whose store hangs fails by its deadline, after logging its summary line', BOUNDED, async () => {
    const dir = join(root, 'timer-hung')
    mkdirSync(dir, { recursive: true })
    process.env['DEAD_LETTER_DIR'] = dir
    const fifo = join(dir, `markers-${new Date().toISOString().slice(0, 10)}-hung.jsonl`)
    execFileSync('mkfifo', [fifo])
    try {
      await assert.rejects(handler(tick(), context('dl-timer-hung', 1)), (err: Error) => {
        assert.equal(err.name, 'DeadLetterTimerError')
        assert.match(err.message, /redrive: open .*markers-.*-hung\.jsonl did not finish within/)
        return true
      })
      assert.ok(lines.some((l) => l.startsWith('dl-timer-hung [info]') && l.includes('"event":"dead-letter.redrive"')))
    } finally {
      closeSync(openSync(fifo, 'w'))
    }
  })
})
