// Splitting a poison record into hand-off payloads under Function Compute's 128 KB asynchronous limit:
// several messages per call, and a message too big for one call as a series of part records, which the
// dead-letter function reassembles (store/parts.ts).
import { createHash } from 'node:crypto'
import type { DeadLetter, PoisonPartRecord, PoisonRecord } from '../record.js'

/** Function Compute's limit for an asynchronous invocation's payload (docs/platform-facts.md §4, §5). */
export const ASYNC_PAYLOAD_LIMIT = 128 * 1024
/** What one hand-off call carries at most: the limit less a margin for how the limit is counted. */
export const HAND_OFF_BUDGET = ASYNC_PAYLOAD_LIMIT - 8 * 1024

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8')

/** Payloads of at most `budget` bytes each, in batch order; a message that fits nowhere alone as part records. */
export function packPoison(record: PoisonRecord, budget = HAND_OFF_BUDGET): Array<PoisonRecord | PoisonPartRecord> {
  const out: Array<PoisonRecord | PoisonPartRecord> = []
  const envelope = bytes({ ...record, messages: [] })
  let current: DeadLetter[] = []
  let size = envelope
  const flush = () => {
    if (current.length > 0) out.push({ ...record, messages: current })
    current = []
    size = envelope
  }
  for (const m of record.messages) {
    const own = bytes(m) + 1 // and a comma
    if (envelope + own > budget) {
      flush()
      out.push(...splitMessage(record, m, budget))
      continue
    }
    if (size + own > budget) flush()
    current.push(m)
    size += own
  }
  flush()
  return out
}

function splitMessage(record: PoisonRecord, m: DeadLetter, budget: number): PoisonPartRecord[] {
  const { event, ...rest } = m
  // A reason long enough to crowd out the data is cut; the event is what must survive whole.
  const message = rest.reason.length > 2000 ? { ...rest, reason: `${rest.reason.slice(0, 2000)}… (reason cut at 2000 characters)` } : rest
  const text = Buffer.from(JSON.stringify(event) ?? 'null', 'utf8')
  const data = text.toString('base64')
  const sha256 = createHash('sha256').update(text).digest('hex')
  const shell: PoisonPartRecord = {
    kind: 'rocketmq-mqtt-bridge.poison-part',
    requestId: record.requestId,
    failedAt: record.failedAt,
    message,
    part: { index: 999999, count: 999999, sha256, bytes: text.length, data: '' },
  }
  const room = budget - bytes(shell)
  if (room < 1024) throw new Error(`a dead-letter part record leaves no room for data (${bytes(shell)} bytes of envelope)`)
  const count = Math.ceil(data.length / room)
  return Array.from({ length: count }, (_, index) => ({
    ...shell,
    part: { index, count, sha256, bytes: text.length, data: data.slice(index * room, (index + 1) * room) },
  }))
}
