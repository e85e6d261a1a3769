// The dead-letter function's handler against a real file system: the destination path, redelivery,
// and a store that cannot be written.

import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { handler } from '../../functions/dead-letter/index.js'
import { readDeadLetters } from '../../shared/dead-letters/store.js'
import type { FcContext } from '../../shared/fc/context.js'

const root = mkdtempSync(join(tmpdir(), 'dl-int-'))
const lines: string[] = []
const savedDir = process.env['DEAD_LETTER_DIR']

function context(requestId: string): FcContext {
  const log = (level: string) => (message: string) => void lines.push(`${requestId} [${level}] ${message}`)
  return {
    requestId,
    function: { name: 'dead-letter', timeout: 30 },
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

const storeBytes = (dir: string) =>
  readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\u0000')

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
    const first = await handler(body, context('dl-1'))
    assert.deepEqual([first.kind, first.received, first.stored], ['destination', 1, 1])
    const before = storeBytes(dir)
    const second = await handler(body, context('dl-2'))
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
    await handler(Buffer.from(JSON.stringify(record)), context('dl-3'))
    await handler(Buffer.from(JSON.stringify(record)), context('dl-4'))
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
    const summary = await handler(Buffer.from(JSON.stringify(other)), context('dl-5'))
    assert.equal(summary.stored, 3, 'a different request ID is a different failure')
  })
})

describe('dead-letter function: a store that cannot be written', () => {
  test('a DEAD_LETTER_DIR under a regular file (fails even for root) makes the function throw, not succeed', async () => {
    // chmod does not stop root; a path whose parent is a regular file fails with ENOTDIR for everyone.
    const file = join(root, 'a-file')
    writeFileSync(file, 'not a directory')
    process.env['DEAD_LETTER_DIR'] = join(file, 'sub')
    await assert.rejects(handler(Buffer.from(JSON.stringify(fixture)), context('dl-6')), (err: Error) => {
      assert.equal(err.name, 'DeadLetterStoreError')
      assert.match(err.message, /could not store 1 dead letter in .*a-file\/sub: .*ENOTDIR/)
      assert.match(err.message, /Function Compute retries it/)
      return true
    })
    assert.ok(lines.some((l) => l.startsWith('dl-6 [error]') && l.includes('dead-letter.store-failed')))
  })
})
