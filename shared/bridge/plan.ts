// Parse -> map -> drop in-batch repeats: the steps the bridge takes before it publishes, shared with the
// validate-rules preview so that the two cannot drift apart.
import type { ParsedEvent } from '../events/message.js'
import { mapMessage, type Publish, type RuleIndex } from '../mapping/map-message.js'

/** A message the bridge cannot map: it goes to the dead letters with this reason. */
export interface PlannedPoison {
  index: number
  reason: string
  ruleId?: string
  messageId?: string
  raw: unknown
}

export interface BatchPlan {
  /** In batch order; `raws[i]` is the entry `publishes[i]` came from. */
  publishes: Publish[]
  raws: unknown[]
  /** Sorted by position in the batch. */
  poison: PlannedPoison[]
  /** Entries repeated within the batch with the same message ID, rule and content: published once. */
  duplicates: number
}

/**
 * Parse -> map -> drop in-batch repeats: the bridge's steps before it publishes (shared/bridge.ts).
 * Instance state (messages delivered by an earlier invocation) is the bridge's own and not part of this.
 */
export function planBatch(parsed: ParsedEvent, index: RuleIndex): BatchPlan {
  const poison: PlannedPoison[] = parsed.poison.map((p) => ({
    index: p.index,
    reason: p.reason,
    raw: p.raw,
    ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
  }))
  const publishes: Publish[] = []
  const raws: unknown[] = []
  const seen = new Map<string, Publish>()
  let duplicates = 0
  for (const msg of parsed.messages) {
    const mapped = mapMessage(msg, index)
    if (!mapped.ok) {
      poison.push({
        index: msg.index,
        reason: mapped.reason,
        raw: msg.raw,
        ...(mapped.ruleId !== undefined ? { ruleId: mapped.ruleId } : {}),
        ...(msg.messageId !== undefined ? { messageId: msg.messageId } : {}),
      })
      continue
    }
    const p = mapped.publish
    if (p.messageId !== undefined) {
      const key = `${p.ruleId}\u0000${p.messageId}`
      const first = seen.get(key)
      if (first) {
        if (samePublish(first, p)) duplicates++
        else
          poison.push({
            index: p.index,
            reason: `message ID ${JSON.stringify(p.messageId)} appears twice in this batch with different content (first at position ${first.index})`,
            ruleId: p.ruleId,
            messageId: p.messageId,
            raw: msg.raw,
          })
        continue
      }
      seen.set(key, p)
    }
    publishes.push(p)
    raws.push(msg.raw)
  }
  poison.sort((a, b) => a.index - b.index)
  return { publishes, raws, poison, duplicates }
}

function samePublish(a: Publish, b: Publish): boolean {
  return (
    a.topic === b.topic && a.qos === b.qos && a.payload.equals(b.payload) && JSON.stringify(a.properties) === JSON.stringify(b.properties)
  )
}
