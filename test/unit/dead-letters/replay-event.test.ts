// What replay and redrive send for a stored entry (shared/dead-letters/store/entry.ts): exactly the bytes
// the bridge received, for every shape a dead letter can take on its way through the bridge's own
// parser, the storable step and the store.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { packPoison } from '../../../shared/dead-letters/handoff/pack.js'
import { storableDeadLetter } from '../../../shared/dead-letters/json-text.js'
import type { PoisonPartRecord } from '../../../shared/dead-letters/record.js'
import { poisonEntries } from '../../../shared/dead-letters/store/entries.js'
import { replayEvent } from '../../../shared/dead-letters/store/entry.js'
import { storePart } from '../../../shared/dead-letters/store/parts.js'
import { DeadLetterStore, type NewEntry } from '../../../shared/dead-letters/store/store.js'
import { parseEvent } from '../../../shared/events/parse.js'

/** The bridge's path for a whole event: parse, make storable, hand off, store. */
function storedFromBridge(received: string): NewEntry[] {
  const parsed = parseEvent(Buffer.from(received))
  const messages = parsed.poison.map(({ event, ...fields }) => storableDeadLetter(fields, event))
  // Through JSON, as the hand-off carries it.
  const record = JSON.parse(
    JSON.stringify({ kind: 'rocketmq-mqtt-bridge.poison', requestId: 'r', failedAt: new Date().toISOString(), messages }),
  )
  return poisonEntries(record, Date.now())
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)

describe('replay sends exactly what was received', () => {
  for (const [name, received] of [
    ['not JSON', 'hello, bridge'],
    ['a JSON string holding a batch', JSON.stringify(JSON.stringify([{ specversion: '1.0', data: { topic: 't', body: 'x' } }]))],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['an empty body', ''],
  ] as const) {
    test(`a whole event that is ${name}`, () => {
      const [entry] = storedFromBridge(received)
      assert.equal(entry!.wholeEvent, true)
      assert.equal(replayEvent(entry!).toString('utf8'), received)
    })
  }

  test('a batch entry is sent as a batch of itself; entries of one batch together, in order', () => {
    const a = { specversion: '1.0', id: 'a', data: { body: 'no topic' } }
    const b = { specversion: '1.0', id: 'b', data: { body: 'no topic either' } }
    const entries = storedFromBridge(JSON.stringify([a, b]))
    assert.equal(replayEvent(entries[0]!).toString(), JSON.stringify([a]))
    assert.equal(replayEvent(entries).toString(), JSON.stringify([a, b]))
  })

  test('an entry kept as text (nested 5,000 deep) is sent as that text, inside its batch', () => {
    const entries = storedFromBridge(`[${deep(5000)}]`)
    assert.equal(entries[0]!.eventText, true)
    assert.equal(replayEvent(entries[0]!).toString(), `[${deep(5000)}]`)
  })

  test('a whole event too big for one hand-off keeps its form through the parts', async () => {
    const received = `not json: ${'z'.repeat(9000)}`
    const parsed = parseEvent(Buffer.from(received))
    const messages = parsed.poison.map(({ event, ...fields }) => storableDeadLetter(fields, event))
    const parts = packPoison({ kind: 'rocketmq-mqtt-bridge.poison', requestId: 'r', failedAt: new Date().toISOString(), messages }, 4096)
    assert.ok(parts.length > 1 && parts.every((p) => p.kind === 'rocketmq-mqtt-bridge.poison-part'))
    const store = new DeadLetterStore(mkdtempSync(join(tmpdir(), 'dl-replay-parts-')))
    let done: NewEntry[] = []
    for (const p of parts) {
      const r = await storePart(store, p as PoisonPartRecord)
      if (r.kind === 'complete') done = r.entries
    }
    assert.equal(done.length, 1)
    assert.deepEqual([done[0]!.wholeEvent, done[0]!.eventText], [true, true])
    assert.equal(replayEvent(done[0]!).toString(), received)
  })
})
