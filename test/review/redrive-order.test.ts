// Review finding: redrive sends the failed batches "in the order stored" (redrive.ts), but it takes them in
// the order the store's files are read: by day, then by the writer token in the file name. Two batches of one
// ordered message group, stored a minute apart by two dead-letter instances, go out newest first when the
// later writer's random token sorts first. The sender only records what redrive hands the bridge, in order.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { messageKey } from '../../shared/dead-letters/store/keys.js'
import { type BridgeSender, redrive } from '../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, type NewEntry } from '../../shared/dead-letters/store/store.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-order-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** One message of ordered group G, left transient by failed invocation `requestId`. */
function transient(id: string, requestId: string, at: string): NewEntry {
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
  await new DeadLetterStore(dir, { clock: new FakeClock(t0), writer: 'zzzzzzzzzzzz' }).put([
    transient('M1', 'req-first', '2024-01-01T09:59:00.000Z'),
  ])
  // ... the next batch's, a minute later, by one whose token sorts first.
  await new DeadLetterStore(dir, { clock: new FakeClock(t0 + 60_000), writer: 'aaaaaaaaaaaa' }).put([
    transient('M2', 'req-second', '2024-01-01T10:00:30.000Z'),
  ])
  const sent: string[] = []
  const send: BridgeSender = async (event) => {
    const batch = JSON.parse(event.toString('utf8')) as Array<{ data: { body: string } }>
    sent.push(...batch.map((e) => e.data.body))
    return { published: batch.length, deadLettered: 0 }
  }
  const clock = new FakeClock(t0 + 10 * 60_000)
  const store = new DeadLetterStore(dir, { clock, deadline: clock.now() + 60_000, writer: 'timer0000000' })
  const result = await redrive(store, { maxAgeMs: 24 * 3_600_000, backoffMs: 60_000, send, requestId: 'timer-1' })
  assert.equal(result.replayed, 2)
  assert.deepEqual(sent, ['M1', 'M2'], 'M2 was published before M1, the earlier message of its group')
})
