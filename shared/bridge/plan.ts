// Parse -> map (route or filter) -> drop in-batch repeats: the bridge's steps before it publishes, shared with the
// validate-rules preview so that the two cannot drift apart. Instance state (messages an earlier
// invocation delivered) is the bridge's own and not part of this.
import type { ParsedEvent, PoisonEntry, RocketMessage } from '../events/message.js'
import { type Expiry, expiryOf } from '../mapping/deadline.js'
import { mapMessage } from '../mapping/map-message.js'
import type { Publish } from '../mapping/publish.js'
import type { RuleIndex } from '../mapping/rule-index.js'
import { quote } from '../rules/topics.js'
import { fingerprint } from './delivered-memory.js'
import { type DeadLettered, deadLettered, indexOf, type Planned } from './records.js'

/**
 * One record per entry of the event, in batch order. `now` dates the deadlines: a message whose send time
 * lies ahead of it earns no more than its deadline from now; null: deadlines are not checked (npm run
 * replay --ignore-deadline). Whether a message has expired is decided later,
 * after the duplicates are known (bridge.ts) and again before its PUBLISH is written.
 */
export function planBatch(parsed: ParsedEvent, index: RuleIndex, now: number | null = Date.now()): Planned[] {
  const planner = new Planner(index, now)
  const planned: Planned[] = parsed.poison.map(poisonRecord)
  for (const msg of parsed.messages) planned.push(planner.plan(msg))
  // Parse errors were listed first; the batch order is what every later stage reports in.
  return planned.sort((a, b) => indexOf(a) - indexOf(b))
}

/** The fewest messages in a slice of a paced batch. */
const MIN_SLICE = 64

/**
 * [from, to) of each slice of a batch of `n` entries published at `paced` messages per second (0: as fast as
 * the broker takes them). Unpaced, one: a pause between slices would cost more than reading ahead saves.
 * Paced, 25 ms of the rate each (at least MIN_SLICE): reading and planning one (about 20 µs a message)
 * blocks the pacing for a fifth of that, and the rate limit's burst of 25 ms makes up such a pause, and
 * the one between two slices (docs/performance.md, "The rate limit").
 */
export function slices(n: number, paced: number): Array<[number, number]> {
  if (paced <= 0) return [[0, n]]
  const size = Math.max(MIN_SLICE, Math.ceil(paced / 40))
  return Array.from({ length: Math.ceil(n / size) }, (_, k) => [k * size, Math.min(n, (k + 1) * size)])
}

/** The record of an entry that is no message at all. */
export function poisonRecord({ event, ...fields }: PoisonEntry): DeadLettered {
  return deadLettered(fields, event)
}

/**
 * Plans the messages of one batch, one at a time and in batch order, so a caller may plan it in slices
 * (bridge.ts). It remembers the batch's message IDs: a repeat is a duplicate, or poison if its content differs.
 */
export class Planner {
  private readonly seen = new Map<string, Publish>()

  constructor(
    private readonly index: RuleIndex,
    private readonly now: number | null,
  ) {}

  plan(msg: RocketMessage): Planned {
    const ids = msg.messageId !== undefined ? { messageId: msg.messageId } : {}
    const mapped = mapMessage(msg, this.index)
    if (!mapped.ok) {
      const rule = mapped.ruleId !== undefined ? { ruleId: mapped.ruleId } : {}
      return deadLettered({ index: msg.index, reason: mapped.reason, ...rule, ...ids }, msg.raw)
    }
    if (mapped.value.kind === 'filtered') return { status: 'filtered', index: msg.index, ruleId: mapped.value.ruleId, ...ids }
    const { publish: p, route, messageGroup } = mapped.value
    let expiry: Expiry | undefined
    if (mapped.value.deadline && this.now !== null) {
      const e = expiryOf(msg, mapped.value.deadline, this.now)
      if (!e.ok) return deadLettered({ index: msg.index, reason: e.reason, ruleId: p.ruleId, ...ids }, msg.raw)
      expiry = e.value
      p.expiresAt = expiry.expiresAt
    }
    if (p.messageId !== undefined) {
      const key = `${p.ruleId}\u0000${p.messageId}`
      const first = this.seen.get(key)
      if (first) {
        return fingerprint(first) === fingerprint(p)
          ? { status: 'duplicate', index: p.index, ruleId: p.ruleId, messageId: p.messageId, seen: 'in this batch' }
          : deadLettered(
              {
                index: p.index,
                reason: `message ID ${quote(p.messageId)} appears twice in this batch with different content (first at position ${first.index})`,
                ruleId: p.ruleId,
                messageId: p.messageId,
              },
              msg.raw,
            )
      }
      this.seen.set(key, p)
    }
    return {
      status: 'publish',
      publish: p,
      event: msg.raw,
      route,
      ...(messageGroup !== undefined ? { messageGroup } : {}),
      ...(expiry ? { expiry } : {}),
    }
  }
}
