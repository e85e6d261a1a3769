// Redrive runs (shared/dead-letters/store/redrive.ts) on a fake clock: what one run expires, sends, and in what order.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { messageKey } from '../../../shared/dead-letters/store/keys.js'
import { type BridgeSender, redrive } from '../../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, type NewEntry } from '../../../shared/dead-letters/store/store.js'
import { transientEntry } from '../../helpers/factories.js'
import { FakeClock } from '../mqtt/fakes.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-stall-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const HOUR = 3_600_000

// Review finding (expire stall): redrive took the turn of every entry past DEAD_LETTER_REDRIVE_MAX_AGE
// (uncapped) before it marked or sent anything, so a store with many expired entries failed every run at its
// deadline. Slow NAS calls are stood in for by moving the store's clock 1 s per turn taken.
test('a run with more expired entries than it has time for still expires some and sends what is due', async () => {
  const clock = new FakeClock(Date.parse('2024-01-01T10:00:00.000Z'))
  const writer = new DeadLetterStore(dir, { clock, writer: 'deadletter01' })
  // The outage: 200 batches, one message each.
  await writer.put(Array.from({ length: 200 }, (_, i) => transientEntry(`OLD${i}`, `req-old-${i}`, '2024-01-01T09:59:00.000Z')))
  clock.advance(25 * HOUR)
  await writer.put([transientEntry('NEW', 'req-new', new Date(clock.now() - 60_000).toISOString())])
  clock.advance(10 * 60_000)
  const sent: string[] = []
  const send: BridgeSender = async (e) => {
    sent.push(e.toString('utf8'))
    return { published: 1, deadLettered: 0 }
  }
  const store = new DeadLetterStore(dir, { clock, deadline: clock.now() + 118_000, writer: 'timer0000000' })
  const takeTurn = store.takeTurn.bind(store)
  store.takeTurn = async (...a: Parameters<typeof takeTurn>) => {
    const claim = await takeTurn(...a)
    clock.advance(1000)
    return claim
  }
  const r = await redrive(store, { maxAgeMs: 24 * HOUR, backoffMs: 60_000, send, requestId: 'timer-1' }).catch((err: Error) => err.message)
  assert.equal(typeof r, 'object', `the run failed before it expired or sent anything: ${String(r)}`)
  assert.ok(typeof r === 'object' && r.expired > 0 && sent.length === 1)
  assert.equal(r.expired + r.deferred, 200, 'the expired entries not taken this run are counted deferred, for the next run')
})

// Review finding (redrive order): redrive took failed batches in file order (day, then writer token), not the
// order stored, so an ordered message group's newer batch could be published before its older one.
const orderDir = mkdtempSync(join(tmpdir(), 'dl-order-'))
after(() => rmSync(orderDir, { recursive: true, force: true }))

/** One message of ordered group G, left transient by failed invocation `requestId`. */
function ordered(id: string, requestId: string, at: string): NewEntry {
  const event = {
    id: `e-${id}`,
    specversion: '1.0',
    data: { topic: 'T', systemProperties: { UNIQ_KEY: id, __SHARDINGKEY: 'G' }, userProperties: {}, body: id },
  }
  return {
    key: messageKey(id, 0, event),
    reason: 'not acknowledged',
    source: 'async-destination',
    failure: 'transient',
    requestId,
    messageId: id,
    firstFailureAt: at,
    lastFailureAt: at,
    attempts: 3,
    event,
  }
}

test('redrive sends the older failed batch of a message group before the newer one, whichever instance stored them', async () => {
  const t0 = Date.parse('2024-01-01T10:00:00.000Z')
  // The first batch's entry, stored by an instance whose token sorts last ...
  await new DeadLetterStore(orderDir, { clock: new FakeClock(t0), writer: 'zzzzzzzzzzzz' }).put([
    ordered('M1', 'req-first', '2024-01-01T09:59:00.000Z'),
  ])
  // ... the next batch's, a minute later, by one whose token sorts first.
  await new DeadLetterStore(orderDir, { clock: new FakeClock(t0 + 60_000), writer: 'aaaaaaaaaaaa' }).put([
    ordered('M2', 'req-second', '2024-01-01T10:00:30.000Z'),
  ])
  const sent: string[] = []
  const send: BridgeSender = async (event) => {
    const batch = JSON.parse(event.toString('utf8')) as Array<{ data: { body: string } }>
    sent.push(...batch.map((e) => e.data.body))
    return { published: batch.length, deadLettered: 0 }
  }
  const clock = new FakeClock(t0 + 10 * 60_000)
  const store = new DeadLetterStore(orderDir, { clock, deadline: clock.now() + 60_000, writer: 'timer0000000' })
  const result = await redrive(store, { maxAgeMs: 24 * 3_600_000, backoffMs: 60_000, send, requestId: 'timer-1' })
  assert.equal(result.replayed, 2)
  assert.deepEqual(sent, ['M1', 'M2'], 'M2 was published before M1, the earlier message of its group')
})
