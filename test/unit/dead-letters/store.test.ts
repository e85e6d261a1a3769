// The store's put and read (shared/dead-letters/store/store.ts), the hand-off's payloads, and the intake's records.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { packPoison } from '../../../shared/dead-letters/handoff/pack.js'
import type { PoisonPartRecord, PoisonRecord } from '../../../shared/dead-letters/record.js'
import { poisonEntries } from '../../../shared/dead-letters/store/entries.js'
import { recognise } from '../../../shared/dead-letters/store/intake.js'
import { storePart } from '../../../shared/dead-letters/store/parts.js'
import { DeadLetterStore, type NewEntry, readDeadLetters, type UnreadableLine } from '../../../shared/dead-letters/store/store.js'
import { FakeClock } from '../mqtt/fakes.js'
import { bigRecord } from './short-write/record.js'

const entriesOf = (r: PoisonRecord) => poisonEntries(r, Date.parse(r.failedAt))
const storeDir = () => mkdtempSync(join(tmpdir(), 'dl-unit-'))
/** The store in `dir` at `at` (ISO, by default 2024-01-01), as writer `writer`. */
const at = (dir: string, iso = '2024-01-01T00:00:01.000Z', writer?: string) =>
  new DeadLetterStore(dir, { clock: new FakeClock(Date.parse(iso)), ...(writer ? { writer } : {}) })
const appendDeadLetters = (dir: string, entries: NewEntry[], o: { writer?: string; now?: string } = {}) =>
  at(dir, o.now, o.writer).put(entries)
/** Every file of the store (entries, markers, index), name and content. */
function storeText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((d) => join(d.parentPath, d.name))
    .sort()
    .map((p) => `${p}\n${statSync(p).isFile() ? readFileSync(p, 'utf8') : '(dir)'}`)
    .join('\n')
}

const fixture = () =>
  JSON.parse(readFileSync(new URL('../../fixtures/fc-async-destination-failure.json', import.meta.url), 'utf8')) as Record<string, unknown>

function poison(requestId: string, failedAt: string, ids: string[], body = 'x'): PoisonRecord {
  return {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId,
    failedAt,
    messages: ids.map((id, index) => ({
      reason: `bad ${id}`,
      ruleId: 'rule-1',
      messageId: id,
      index,
      event: { data: { topic: 't', body, systemProperties: { UNIQ_KEY: id } } },
    })),
  }
}

describe('dead-letter store', () => {
  test('the same record delivered twice is stored once; the store does not grow', async () => {
    const dir = storeDir()
    const entries = entriesOf(poison('req-1', '2024-01-01T00:00:00.000Z', ['A', 'B']))
    const first = await appendDeadLetters(dir, entries)
    const files = storeText(dir)
    const second = await appendDeadLetters(dir, entries, { writer: 'otherinstance' })
    assert.deepEqual([first.stored, second.stored, second.duplicates], [2, 0, 2])
    assert.equal(storeText(dir), files, 'nothing written the second time, not even by another instance')
    assert.deepEqual(
      (await readDeadLetters(dir)).map((e) => e.messageId),
      ['A', 'B'],
    )
  })

  test('the same message failing in another request raises attempts and the last failure time, without a second entry', async () => {
    const dir = storeDir()
    await appendDeadLetters(dir, entriesOf(poison('req-1', '2024-01-01T00:00:00.000Z', ['A'])))
    const again = await appendDeadLetters(dir, entriesOf(poison('req-2', '2024-01-02T00:00:00.000Z', ['A'])))
    await appendDeadLetters(dir, entriesOf(poison('req-2', '2024-01-02T00:00:00.000Z', ['A'])))
    assert.deepEqual(again.outcomes, ['failed-again'])
    const stored = await readDeadLetters(dir)
    assert.equal(stored.length, 1)
    assert.equal(stored[0]!.attempts, 2)
    assert.equal(stored[0]!.firstFailureAt, '2024-01-01T00:00:00.000Z')
    assert.equal(stored[0]!.lastFailureAt, '2024-01-02T00:00:00.000Z')
  })

  test('two writers racing on a new key both write a line: readers keep one entry and count both reports', async () => {
    const dir = storeDir()
    // Both look the key up before either has indexed it (as two instances do), so both store it.
    const [a, b] = await Promise.all([
      appendDeadLetters(dir, entriesOf(poison('req-a', '2024-01-01T00:00:00.000Z', ['R'])), { writer: 'aaaa' }),
      appendDeadLetters(dir, entriesOf(poison('req-b', '2024-01-01T00:00:05.000Z', ['R'])), { writer: 'bbbb' }),
    ])
    assert.deepEqual([a.outcomes, b.outcomes], [['stored'], ['stored']], 'the race this test is about')
    const stored = await readDeadLetters(dir)
    assert.equal(stored.length, 1)
    assert.deepEqual([stored[0]!.attempts, stored[0]!.lastFailureAt], [2, '2024-01-01T00:00:05.000Z'])
    // A third request's report, and the racing requests' own reports delivered again, change nothing more than their own.
    await appendDeadLetters(dir, entriesOf(poison('req-c', '2024-01-01T00:00:09.000Z', ['R'])))
    await appendDeadLetters(dir, entriesOf(poison('req-b', '2024-01-01T00:00:05.000Z', ['R'])))
    assert.equal((await readDeadLetters(dir))[0]!.attempts, 3)
  })

  test('a torn last line from a crash is skipped, and the next append is still readable', async () => {
    const dir = storeDir()
    const now = '2024-03-01T00:00:00.000Z'
    await appendDeadLetters(dir, entriesOf(poison('req-1', now, ['A'])), { now })
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.jsonl'))
    appendFileSync(join(dir, file!), '{"key":"torn","reason":"half writ')
    await appendDeadLetters(dir, entriesOf(poison('req-2', now, ['B'])), { now })
    const unreadable: UnreadableLine[] = []
    assert.deepEqual(
      (await readDeadLetters(dir, { onUnreadable: (u) => void unreadable.push(u) })).map((e) => e.messageId),
      ['A', 'B'],
    )
    assert.deepEqual(
      unreadable.map((u) => [u.file, u.line]),
      [[file, 2]],
      'the torn line is reported, not skipped silently',
    )
    assert.match(unreadable[0]!.problem, /^not JSON/)
  })

  // Review finding (a full disk, a NAS quota): a short write(2) in the append must not leave put() reporting
  // "stored" with a torn, unreadable line and its index made, or the dead letter is lost.
  test('a put that hit a short write either throws or leaves the message readable; a retry then stores it', async () => {
    const dir = storeDir()
    const child = new URL('./short-write/child.ts', import.meta.url).pathname
    // 64 KiB file-size limit: the 200 KB line's write returns short (no signal: something was written).
    const said = JSON.parse(
      execFileSync('bash', ['-c', 'ulimit -f 64; exec node --import tsx "$0" "$1"', child, dir], {
        encoding: 'utf8',
        env: { ...process.env, TSX_DISABLE_CACHE: '1' },
      }),
    ) as { outcomes?: string[]; threw?: string }
    // Function Compute retries the invocation when put() throws; here the disk has room again.
    const store = new DeadLetterStore(dir, { deadline: Date.now() + 20_000 })
    const retried = said.threw !== undefined
    if (retried) await store.put(poisonEntries(bigRecord, Date.parse(bigRecord.failedAt)))
    else {
      assert.deepEqual(said.outcomes, ['stored'])
      // What Function Compute does anyway (at least once): the same record again.
      const again = await store.put(poisonEntries(bigRecord, Date.parse(bigRecord.failedAt)))
      assert.deepEqual(again.outcomes, ['duplicate'])
    }
    const unreadable: UnreadableLine[] = []
    const all = await store.readAll({ onUnreadable: (u) => void unreadable.push(u) })
    assert.equal(
      all.filter((e) => e.messageId === 'M1').length,
      1,
      `put() said ${JSON.stringify(said)}, yet the message is not in the store; unreadable: ${JSON.stringify(unreadable)}`,
    )
  })

  test('a line of a format this store never wrote is reported with why, not guessed at', async () => {
    const dir = storeDir()
    await appendDeadLetters(dir, entriesOf(poison('req-1', '2024-01-01T00:00:00.000Z', ['A'])))
    // An entry as an unreleased version wrote it: no failure kind, no storedAt.
    const old = {
      key: 'c'.repeat(32),
      reason: 'bad',
      source: 'bridge-poison',
      firstFailureAt: 'x',
      lastFailureAt: 'x',
      attempts: 1,
      event: {},
    }
    appendFileSync(join(dir, 'dead-letters-2023-12-31-old.jsonl'), `${JSON.stringify(old)}\n`)
    const unreadable: UnreadableLine[] = []
    const stored = await readDeadLetters(dir, { onUnreadable: (u) => void unreadable.push(u) })
    assert.deepEqual(
      stored.map((e) => e.messageId),
      ['A'],
    )
    assert.deepEqual(unreadable, [
      { file: 'dead-letters-2023-12-31-old.jsonl', line: 1, problem: "not a dead-letter entry of this store's format: failure: Required" },
    ])
  })

  test('a replay marker makes readers see the entry as replayed, until it fails again', async () => {
    const dir = storeDir()
    // The store's own clock (`now`) orders the facts, not the times the records claim.
    await appendDeadLetters(dir, entriesOf(poison('req-1', '2024-01-01T00:00:00.000Z', ['A', 'B'])))
    const [a] = await readDeadLetters(dir)
    await at(dir, '2024-01-05T00:00:00.000Z').mark([{ marker: 'replayed', key: a!.key, requestId: 'replay-1', turn: 1 }])
    let stored = await readDeadLetters(dir)
    assert.equal(stored[0]!.replayedAt, '2024-01-05T00:00:00.000Z')
    assert.equal(stored[0]!.replayRequestId, 'replay-1')
    assert.equal(stored[1]!.replayedAt, undefined)
    await appendDeadLetters(dir, entriesOf(poison('req-9', '2024-01-06T00:00:00.000Z', ['A'])), { now: '2024-01-06T00:00:01.000Z' })
    stored = await readDeadLetters(dir)
    assert.equal(stored[0]!.replayedAt, undefined, 'failed again after the replay: pending again')
    assert.equal(stored[0]!.status, 'pending')
    assert.equal(stored[0]!.attempts, 2)
    assert.equal(stored[0]!.lastFailureAt, '2024-01-06T00:00:00.000Z')
  })
})

describe('dead-letter hand-off payloads', () => {
  const budget = 4096

  test('messages are packed in order into payloads no bigger than the budget', () => {
    const record = poison(
      'req-1',
      '2024-01-01T00:00:00.000Z',
      Array.from({ length: 40 }, (_, i) => `M${i}`),
      'y'.repeat(300),
    )
    const payloads = packPoison(record, budget)
    assert.ok(payloads.length > 1)
    for (const p of payloads) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= budget, 'each payload within the budget')
    const ids = payloads.flatMap((p) => (p.kind === 'rocketmq-mqtt-bridge.poison' ? p.messages.map((m) => m.messageId) : []))
    assert.deepEqual(
      ids,
      record.messages.map((m) => m.messageId),
    )
  })

  test('a message too big for one payload goes in parts that reassemble, in any order, to the original event', async () => {
    const big = 'é'.repeat(10_000) // multi-byte, so bytes != characters
    const record = poison('req-1', '2024-01-01T00:00:00.000Z', ['SMALL', 'BIG'])
    record.messages[1]!.event = { data: { topic: 't', body: big } }
    const payloads = packPoison(record, budget)
    const parts = payloads.filter((p): p is PoisonPartRecord => p.kind === 'rocketmq-mqtt-bridge.poison-part')
    assert.ok(parts.length >= 5)
    for (const p of payloads) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= budget)
    const dir = storeDir()
    const shuffled = [...parts].reverse()
    const results = []
    for (const p of shuffled) results.push(await storePart(at(dir), p))
    assert.ok(
      results.slice(0, -1).every((r) => r.kind === 'waiting'),
      'incomplete until the last part',
    )
    const last = results.at(-1)!
    assert.equal(last.kind, 'complete')
    const [entry] = last.kind === 'complete' ? last.entries : []
    assert.deepEqual(entry!.event, record.messages[1]!.event)
    assert.equal(entry!.messageId, 'BIG')
  })
})

describe('dead-letter intake', () => {
  test('the sample destination record becomes one entry per message with its reason and original entry', () => {
    const record = fixture()
    const entries = (recognise(Buffer.from(JSON.stringify(record)), Date.now(), 'dl-req') as { entries: NewEntry[] }).entries
    assert.equal(entries.length, 1)
    const e = entries[0]!
    assert.equal(e.source, 'async-destination')
    assert.equal(e.condition, 'UnhandledInvocationError')
    assert.equal(e.functionError, 'UnhandledInvocationError')
    assert.match(e.reason, /after 4 attempts.*UnhandledInvocationError.*not acknowledged by the MQTT broker/)
    assert.equal(e.messageId, 'AC14C305069E1B28CA003E5A7B5E0001')
    assert.equal(e.requestId, '1-6502f1a2-0c1b2d3e4f5a6b7c8d9e0f1a')
    assert.equal(e.attempts, 4)
    assert.equal(e.lastFailureAt, new Date(1660120276975).toISOString())
    assert.deepEqual(e.event, (JSON.parse(record['requestPayload'] as string) as unknown[])[0])
  })

  test('an event it does not recognise is stored as received, not dropped', () => {
    const intake = recognise(Buffer.from('{"hello": "world"}'), Date.now(), 'dl-req')
    assert.equal(intake.kind, 'unrecognised')
    assert.deepEqual((intake as { entries: NewEntry[] }).entries[0]!.event, { hello: 'world' })
  })
})
