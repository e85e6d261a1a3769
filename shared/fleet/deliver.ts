// One batch through the fleet store: claim a chunk, publish what is ours (paced by FLEET_RATE_LIMIT), settle
// it, and go on; the next chunk's claims travel while this one is published (chunks.ts). Every message ends
// with one outcome:
//   complete elsewhere within the window -> duplicate, not published
//   claimed by an invocation still running -> failed (transient): the batch is retried, and by then it is done
//   ours -> published through the pool; delivered marks it complete, anything else releases it
//   the store failing, or no permit before the deadline -> failed (transient), never published unchecked
// An ordered rule's group whose message failed here fails its later messages too, across chunks, as the
// publish window does within one (docs/rules.md, "Ordered delivery per message group").
import type { Logger } from '../logging/logger.js'
import type { Publish } from '../mapping/publish.js'
import type { PublishOutcome, PublishResult } from '../mqtt/outcome.js'
import { claimChunks } from './chunks.js'
import { type ChunkMember, type ClaimState, claimCalls, claimStates, settleCalls } from './claims.js'
import type { FleetConnection } from './connection.js'
import type { FleetRateLimiter } from './rate-limiter.js'

/** A message's fate through the fleet: the pool's outcome, or recognised as complete in the fleet store. */
export type FleetOutcome = PublishOutcome | { kind: 'duplicate' }

export interface FleetItem {
  publish: Publish
  /** messageKey(…); undefined without a message ID. */
  key: string | undefined
  /** With an ordered rule, its message group (unique across rules). */
  group: string | undefined
}

/** The pool, as the bridge calls it: one outcome per item, in order. */
export type PublishChunk = (items: Publish[], groups: (string | undefined)[] | undefined) => Promise<PublishResult>

export interface FleetBatch {
  items: FleetItem[]
  publish: PublishChunk
  /** The invocation's deadline (epoch ms): no claim, permit or publish starts after it. */
  deadline: number
  /** When the invocation certainly ends (Function Compute's timeout): claims expire a little after it. */
  end: number
  /** This invocation, unique in the fleet: owner tokens are `<token>.<chunk>`. */
  token: string
  log: Logger
}

export interface FleetStats {
  keys: number
  claimed: number
  takenOver: number
  duplicates: number
  busy: number
  released: number
  permits: number
  roundTrips: number
}

/** A claim outlives its owner's invocation by this much, so clock skew never frees a claim too early. */
const CLAIM_MARGIN_MS = 1000
/** Settling may go on past the deadline, up to this long before the invocation's end. */
const SETTLE_MARGIN_MS = 250

const BUSY =
  'claimed by another invocation that is publishing it now (fleet store): not published here, so that it is published once; the batch is retried'
const DUPLICATE: FleetOutcome = Object.freeze({ kind: 'duplicate' })
const unchecked = (storeFailure: string) => `${storeFailure}; not published, so that nothing goes out unchecked`
const failed = (reason: string): PublishOutcome => ({ kind: 'failed', reason })
const brokenGroup = (cause: string) =>
  `not sent: an earlier message of its message group was not delivered (${cause}); the batch is retried so that the group keeps its order`

export async function deliverThroughFleet(
  connection: FleetConnection,
  limiter: FleetRateLimiter | undefined,
  windowMs: number,
  batch: FleetBatch,
): Promise<{ outcomes: FleetOutcome[]; droppedV5Properties: number; stats: FleetStats }> {
  const { items, deadline, end } = batch
  const outcomes: FleetOutcome[] = new Array(items.length)
  const members: ChunkMember[] = items.map((it) => ({ ruleId: it.publish.ruleId, key: it.key }))
  const ordered = items.some((it) => it.group !== undefined)
  const broken = new Map<string, string>()
  const stats: FleetStats = { keys: 0, claimed: 0, takenOver: 0, duplicates: 0, busy: 0, released: 0, permits: 0, roundTrips: 0 }
  const settles: Array<Promise<string | undefined>> = []
  let dropped = 0
  let storeFailure: string | undefined

  const fail = (i: number, reason: string) => {
    outcomes[i] = failed(reason)
    const g = items[i]!.group
    if (g !== undefined && !broken.has(g)) broken.set(g, brokenGroup(reason))
  }

  /** Claims chunk [start, end) as `owner`; a store failure comes back as its reason, never thrown. */
  const claim = async (start: number, stop: number, owner: string): Promise<ClaimState[] | string> => {
    const chunk = members.slice(start, stop)
    const { calls, positions } = claimCalls(chunk, owner, end - Date.now() + CLAIM_MARGIN_MS, windowMs)
    if (calls.length === 0) return claimStates(chunk, positions, [])
    stats.roundTrips++
    try {
      return claimStates(chunk, positions, await connection.run(calls, deadline, 'claiming messages'))
    } catch (err) {
      return (err as Error).message
    }
  }

  /** Publishes these positions, in order, as the fleet's permits allow. */
  const publish = async (positions: number[]) => {
    let rest = positions
    while (rest.length > 0) {
      rest = rest.filter((i) => {
        const reason = broken.get(items[i]!.group!)
        if (reason !== undefined) outcomes[i] = failed(reason)
        return reason === undefined
      })
      if (rest.length === 0) return
      let take = rest.length
      if (limiter) {
        try {
          stats.roundTrips++
          take = await limiter.acquire(rest.length, deadline)
        } catch (err) {
          storeFailure = (err as Error).message
          for (const i of rest) fail(i, unchecked(storeFailure))
          return
        }
        if (take === 0) {
          const reason = `no permit of FLEET_RATE_LIMIT=${limiter.rate} before the invocation's deadline`
          for (const i of rest) fail(i, reason)
          return
        }
        stats.permits += take
      }
      const slice = rest.slice(0, take)
      rest = rest.slice(take)
      const r = await batch.publish(
        slice.map((i) => items[i]!.publish),
        ordered ? slice.map((i) => items[i]!.group) : undefined,
      )
      dropped += r.droppedV5Properties
      r.outcomes.forEach((o, j) => {
        if (o.kind === 'failed') fail(slice[j]!, o.reason)
        else outcomes[slice[j]!] = o
      })
    }
  }

  /** Marks the delivered ones complete and releases the rest: sent now, awaited at the end. */
  const settle = (start: number, stop: number, states: ClaimState[], owner: string) => {
    const chunk = members.slice(start, stop)
    const s = settleCalls(chunk, states, (j) => outcomes[start + j]?.kind === 'delivered', owner, windowMs)
    stats.released += s.released
    if (s.calls.length === 0) return
    stats.roundTrips++
    settles.push(
      connection.run(s.calls, Math.max(deadline, end - SETTLE_MARGIN_MS), 'settling claims').then(
        () => undefined,
        (err: Error) => err.message,
      ),
    )
  }

  // With the fleet's rate, chunks hold whole bursts, so only the batch's last grant is a partial one.
  const chunks = claimChunks(items.length, limiter?.burst)
  const ownerOf = (k: number) => `${batch.token}.${k}`
  let next = chunks.length > 0 ? claim(chunks[0]![0], chunks[0]![1], ownerOf(0)) : undefined
  for (let k = 0; k < chunks.length; k++) {
    const [start, stop] = chunks[k]!
    const claimed = await next!
    const states = storeFailure ?? claimed
    if (typeof states === 'string') {
      // A claim that got through before the store failed elsewhere is given back, unpublished.
      if (typeof claimed !== 'string') settle(start, stop, claimed, ownerOf(k))
      storeFailure = states
      for (let i = start; i < items.length; i++) fail(i, unchecked(states))
      break
    }
    if (k + 1 < chunks.length) next = claim(chunks[k + 1]![0], chunks[k + 1]![1], ownerOf(k + 1))
    const mine: number[] = []
    states.forEach((s, j) => {
      const i = start + j
      if (s !== 'unkeyed') stats.keys++
      if (s === 'duplicate') {
        stats.duplicates++
        outcomes[i] = DUPLICATE
      } else if (s === 'busy') {
        stats.busy++
        fail(i, BUSY)
      } else {
        if (s === 'claimed') stats.claimed++
        if (s === 'taken-over') stats.takenOver++
        mine.push(i)
      }
    })
    await publish(mine)
    settle(start, stop, states, ownerOf(k))
  }
  const unsettled = (await Promise.all(settles)).filter((r): r is string => r !== undefined)
  if (unsettled.length > 0) {
    batch.log.warn({
      event: 'fleet.settle-failed',
      reason: unsettled[0]!,
      note: 'the messages were published (or not) as the summary says; their claims stay until the invocation would have timed out, and a redelivery after that publishes them again',
    })
  }
  if (stats.takenOver > 0) {
    batch.log.info({
      event: 'fleet.claims-taken-over',
      count: stats.takenOver,
      note: 'claims of invocations that ended without settling (killed or timed out) were taken over; what they had published may be published again',
    })
  }
  return { outcomes, droppedV5Properties: dropped, stats }
}
