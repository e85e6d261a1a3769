// Review finding: when one part of an oversized dead letter fails to reach the dead-letter function, the
// bridge's invocation fails (DeadLetterError) and Function Compute retries it: the retry hands the message off
// again, in the same group (partGroup: request ID, index, checksum), but with a new failedAt
// (bridge.ts handOff stamps `new Date()`). parts.ts then refuses every part of the retry, because meta.json
// (the first attempt's) holds the old failedAt: the message is never put back together; six hours later the
// timer stores it incomplete (not replayable), beside one refused-part entry per slice.
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

const dir = mkdtempSync(join(tmpdir(), 'dl-parts-retry-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const attempt = (failedAt: string): PoisonRecord => ({
  kind: 'rocketmq-mqtt-bridge.poison',
  requestId: 'req-1',
  failedAt,
  messages: [{ index: 0, reason: 'payload over the limit', messageId: 'M1', event: { data: { topic: 'T', body: 'b'.repeat(300_000) } } }],
})

test('the retry of a hand-off whose last part failed completes the message', async () => {
  const first = packPoison(attempt('2024-01-01T00:00:00.000Z')) as PoisonPartRecord[]
  const retry = packPoison(attempt('2024-01-01T00:00:07.000Z')) as PoisonPartRecord[]
  const store = new DeadLetterStore(dir, { clock: new FakeClock(Date.parse('2024-01-01T00:00:08.000Z')) })
  // The first attempt: every part but the last got through.
  for (const p of first.slice(0, -1)) assert.equal((await storePart(store, p)).kind, 'waiting')
  // Function Compute retries the bridge; it hands the message off again, whole.
  const outcomes = []
  for (const p of retry) outcomes.push(await storePart(store, p))
  assert.ok(
    outcomes.some((o) => o.kind === 'complete'),
    `the retry's parts were ${JSON.stringify(outcomes.map((o) => (o.kind === 'refused' ? o.why : o.kind)))}`,
  )
})
