// Claiming and settling one chunk of a batch: one CLAIM script per rule, all in one pipeline, and later one
// SETTLE per rule (scripts.ts holds the states). Pure translation between positions and script calls.
import type { ScriptCall } from './connection.js'
import { ownerPrefix } from './keys.js'

/** What the store said of one message of the chunk. */
export type ClaimState =
  /** Ours now: publish it. */
  | 'claimed'
  /** Ours now, taken over from an owner whose invocation ended without settling (it died). */
  | 'taken-over'
  /** Complete within the window, by any instance: a duplicate, not published. */
  | 'duplicate'
  /** Claimed by an invocation still running: not published here; this invocation fails as transient. */
  | 'busy'
  /** No message ID, so nothing to claim (it cannot be recognised again): published as without a fleet store. */
  | 'unkeyed'

export interface ChunkMember {
  ruleId: string
  /** messageKey(…), or undefined for a message without an ID. */
  key: string | undefined
}

/** The calls that claim `members` for `owner`, and where each call's keys came from. */
export function claimCalls(
  members: ChunkMember[],
  owner: string,
  claimTtlMs: number,
  windowMs: number,
): { calls: ScriptCall[]; positions: number[][] } {
  const byRule = new Map<string, number[]>()
  members.forEach((m, i) => {
    if (m.key === undefined) return
    const list = byRule.get(m.ruleId)
    if (list) list.push(i)
    else byRule.set(m.ruleId, [i])
  })
  const calls: ScriptCall[] = []
  const positions: number[][] = []
  for (const [ruleId, list] of byRule) {
    calls.push({
      script: 'fleetClaim',
      keys: [ownerPrefix(ruleId) + owner, ...list.map((i) => members[i]!.key!)],
      // A key outlives its owner's claim by the window: never gone while the owner may still publish, and kept
      // the window after the owner completes (its record lives the window from settling).
      args: [owner, Math.ceil(claimTtlMs), Math.ceil(claimTtlMs) + windowMs, ownerPrefix(ruleId)],
    })
    positions.push(list)
  }
  return { calls, positions }
}

const STATE: Record<string, ClaimState> = { d: 'duplicate', b: 'busy', t: 'taken-over' }

/** The CLAIM replies (pairs of 1-based position and state letter, for the keys not simply claimed) -> one state each. */
export function claimStates(members: ChunkMember[], positions: number[][], replies: unknown[]): ClaimState[] {
  const states: ClaimState[] = members.map((m) => (m.key === undefined ? 'unkeyed' : 'claimed'))
  replies.forEach((reply, c) => {
    if (!Array.isArray(reply) || reply.length % 2 !== 0) throw new Error(`unexpected reply to a claim: ${JSON.stringify(reply)}`)
    for (let j = 0; j < reply.length; j += 2) {
      const at = positions[c]![Number(reply[j]) - 1]
      const state = STATE[String(reply[j + 1])]
      if (at === undefined || state === undefined) throw new Error(`unexpected reply to a claim: ${JSON.stringify(reply.slice(j, j + 2))}`)
      states[at] = state
    }
  })
  return states
}

/**
 * The calls that settle a chunk: per rule claimed, release what `delivered` says was not delivered, and mark
 * the owner done when anything was. Every rule of the claim gets one, so no owner record is left running.
 */
export function settleCalls(
  members: ChunkMember[],
  states: ClaimState[],
  delivered: (position: number) => boolean,
  owner: string,
  windowMs: number,
): { calls: ScriptCall[]; released: number } {
  const byRule = new Map<string, { release: string[]; any: boolean }>()
  let released = 0
  members.forEach((m, i) => {
    if (m.key === undefined) return
    let entry = byRule.get(m.ruleId)
    if (!entry) {
      entry = { release: [], any: false }
      byRule.set(m.ruleId, entry)
    }
    const s = states[i]
    if (s !== 'claimed' && s !== 'taken-over') return
    if (delivered(i)) entry.any = true
    else {
      entry.release.push(m.key)
      released++
    }
  })
  const calls: ScriptCall[] = [...byRule].map(([ruleId, e]) => ({
    script: 'fleetSettle',
    keys: [ownerPrefix(ruleId) + owner, ...e.release],
    args: [owner, windowMs, e.any ? '1' : '0'],
  }))
  return { calls, released }
}
