// Review finding: a poison message too big for one hand-off whose message ID is over 200 characters (RocketMQ
// and CloudEvents set no such limit; the bridge keeps any ID) is cut into parts by pack.ts, and then every
// part is refused by parts.ts partProblem() ("longer than a bridge ever sends"): the message is never put back
// together, only its base64 slices are stored, each as a refused-part entry that cannot be replayed.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { packPoison } from '../../shared/dead-letters/handoff/pack.js'
import type { PoisonPartRecord, PoisonRecord } from '../../shared/dead-letters/record.js'
import { storePart } from '../../shared/dead-letters/store/parts.js'
import { DeadLetterStore } from '../../shared/dead-letters/store/store.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-parts-id-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('an oversized dead letter with a long message ID is put back together from the parts the bridge sent', async () => {
  const id = `ID-${'7'.repeat(250)}`
  const record: PoisonRecord = {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId: 'req-1',
    failedAt: '2024-01-01T00:00:00.000Z',
    messages: [{ index: 0, reason: 'payload over the limit', messageId: id, event: { data: { topic: 'T', body: 'b'.repeat(300_000) } } }],
  }
  const parts = packPoison(record) as PoisonPartRecord[]
  assert.ok(parts.length > 1 && parts.every((p) => p.kind === 'rocketmq-mqtt-bridge.poison-part'))
  const store = new DeadLetterStore(dir, { clock: new FakeClock(Date.parse('2024-01-01T00:00:01.000Z')) })
  const outcomes = []
  for (const p of parts) outcomes.push(await storePart(store, p))
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    [...parts.slice(1).map(() => 'waiting'), 'complete'],
    `the parts were ${JSON.stringify(outcomes.map((o) => (o.kind === 'refused' ? o.why : o.kind)).slice(0, 2))}`,
  )
})
