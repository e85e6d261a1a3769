// Parse -> map (route or filter) -> drop in-batch repeats: the bridge's steps before it publishes, shared with the
// validate-rules preview so that the two cannot drift apart. Instance state (messages an earlier
// invocation delivered) is the bridge's own and not part of this.
import type { ParsedEvent } from '../events/message.js'
import { mapMessage } from '../mapping/map-message.js'
import type { Publish } from '../mapping/publish.js'
import type { RuleIndex } from '../mapping/rule-index.js'
import { quote } from '../rules/topics.js'
import { fingerprint } from './delivered-memory.js'
import { deadLettered, indexOf, type Planned } from './records.js'

/** One record per entry of the event, in batch order. */
export function planBatch(parsed: ParsedEvent, index: RuleIndex): Planned[] {
  const planned: Planned[] = parsed.poison.map(({ event, ...fields }) => deadLettered(fields, event))
  const seen = new Map<string, Publish>()
  for (const msg of parsed.messages) {
    const ids = msg.messageId !== undefined ? { messageId: msg.messageId } : {}
    const mapped = mapMessage(msg, index)
    if (!mapped.ok) {
      planned.push(
        deadLettered(
          { index: msg.index, reason: mapped.reason, ...(mapped.ruleId !== undefined ? { ruleId: mapped.ruleId } : {}), ...ids },
          msg.raw,
        ),
      )
      continue
    }
    if (mapped.value.kind === 'filtered') {
      planned.push({ status: 'filtered', index: msg.index, ruleId: mapped.value.ruleId, ...ids })
      continue
    }
    const { publish: p, route, messageGroup } = mapped.value
    if (p.messageId !== undefined) {
      const key = `${p.ruleId}\u0000${p.messageId}`
      const first = seen.get(key)
      if (first) {
        planned.push(
          fingerprint(first) === fingerprint(p)
            ? { status: 'duplicate', index: p.index, ruleId: p.ruleId, messageId: p.messageId, seen: 'in this batch' }
            : deadLettered(
                {
                  index: p.index,
                  reason: `message ID ${quote(p.messageId)} appears twice in this batch with different content (first at position ${first.index})`,
                  ruleId: p.ruleId,
                  messageId: p.messageId,
                },
                msg.raw,
              ),
        )
        continue
      }
      seen.set(key, p)
    }
    planned.push({
      status: 'publish',
      publish: p,
      event: msg.raw,
      route,
      ...(messageGroup !== undefined ? { messageGroup } : {}),
    })
  }
  // Parse errors were listed first; the batch order is what every later stage reports in.
  return planned.sort((a, b) => indexOf(a) - indexOf(b))
}
