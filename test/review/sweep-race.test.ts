// Review finding: the timer's sweepParts() removes a part group it finds without meta.json ("holds nothing").
// But storePart() makes the group's directory before it publishes meta.json: a first part being stored
// while the timer sweeps can have its meta.json and part file published between the sweep's read and its
// removeTree. That part's invocation succeeded, so it never comes again: the message can only be stored
// incomplete, six hours later. The interleaving is forced by running the part's storePart() inside the
// sweep's read of meta.json, after that read found nothing.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { packPoison } from '../../shared/dead-letters/handoff/pack.js'
import type { PoisonPartRecord, PoisonRecord } from '../../shared/dead-letters/record.js'
import { partGroup, storePart, sweepParts } from '../../shared/dead-letters/store/parts.js'
import { DeadLetterStore } from '../../shared/dead-letters/store/store.js'
import { FakeClock } from '../unit/mqtt/fakes.js'

const dir = mkdtempSync(join(tmpdir(), 'dl-sweep-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('a part stored while the timer sweeps is kept, and its message completes', async () => {
  const record: PoisonRecord = {
    kind: 'rocketmq-mqtt-bridge.poison',
    requestId: 'req-1',
    failedAt: '2024-01-01T00:00:00.000Z',
    messages: [{ index: 0, reason: 'payload over the limit', messageId: 'M1', event: { data: { topic: 'T', body: 'b'.repeat(300_000) } } }],
  }
  const parts = packPoison(record) as PoisonPartRecord[]
  const clock = new FakeClock(Date.parse('2024-01-01T00:00:01.000Z'))
  const bridgeSide = new DeadLetterStore(dir, { clock, writer: 'partwriter01' })
  const timer = new DeadLetterStore(dir, { clock, writer: 'timerwriter1' })
  // The first part's storePart() has made its group's directory (ensureDir), and not yet published meta.json.
  mkdirSync(join(dir, 'parts', partGroup(parts[0]!)), { recursive: true })
  const read = timer.fs.read.bind(timer.fs)
  let first: Awaited<ReturnType<typeof storePart>> | undefined
  timer.fs.read = async (path: string) => {
    const text = await read(path)
    if (path.endsWith('meta.json') && first === undefined) first = await storePart(bridgeSide, parts[0]!)
    return text
  }
  await sweepParts(timer)
  assert.equal(first?.kind, 'waiting', 'the first part was stored, and its invocation succeeded')
  let last: Awaited<ReturnType<typeof storePart>> | undefined
  for (const p of parts.slice(1)) last = await storePart(bridgeSide, p)
  assert.equal(last?.kind, 'complete', `the last part left the group ${JSON.stringify(last)}`)
})
