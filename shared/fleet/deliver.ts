// One batch through the fleet store. While the bridge plans the batch, each chunk of planned messages is
// claimed at once (chunks.ts), so the store works while the bridge plans and the claims are back when planning
// ends; then everything this invocation claimed goes to the pool in one send, and every chunk is settled in
// one exchange. Every message ends with one outcome:
//   complete elsewhere within the window -> duplicate, not published
//   claimed by an invocation still running -> failed (transient): the batch is retried, and by then it is done
//   ours -> published through the pool; delivered marks it complete, anything else releases it
//   the store failing, or no permit before the deadline -> failed (transient), never published unchecked
// An ordered rule's group whose message failed here fails its later messages too, and so does a topic for its
// messages without a group, as the publish window does within one send (docs/rules.md, "Ordered delivery per
// message group"; shared/mqtt/topic-order.ts): with FLEET_RATE_LIMIT the send comes in slices.
import type { Logger } from '../logging/logger.js'
import type { Publish } from '../mapping/publish.js'
import { groupHeldBack } from '../mqtt/group-order.js'
import type { PublishOutcome, PublishResult } from '../mqtt/outcome.js'
import { heldBack } from '../mqtt/topic-order.js'
import { claimChunks } from './chunks.js'
import { type ChunkMember, type ClaimState, claimCalls, claimStates, settleCalls } from './claims.js'
import type { FleetConnection, ScriptCall } from './connection.js'
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

export interface FleetInvocation {
  /** The invocation's deadline (epoch ms): no claim, permit or publish starts after it. */
  deadline: number
  /** When the invocation certainly ends (Function Compute's timeout): claims expire a little after it. */
  end: number
  /** This invocation, unique in the fleet: owner tokens are `<token>.<chunk>`. */
  token: string
  log: Logger
  /** The most messages the batch can add (its size): how it is cut (chunks.ts). */
  expected: number
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
/**
 * Settling is asked even later than that, with this long for its answer: once written, Redis runs it whether or
 * not the answer is awaited, and an unsettled claim would turn this batch's retries away until the claim TTL.
 */
const SETTLE_AT_LEAST_MS = 100

const BUSY =
  'claimed by another invocation that is publishing it now (fleet store): not published here, so that it is published once; the batch is retried'
const DUPLICATE: FleetOutcome = Object.freeze({ kind: 'duplicate' })
const unchecked = (storeFailure: string) => `${storeFailure}; not published, so that nothing goes out unchecked`

/** One chunk: where it starts among the run's items, its owner token, and what its claim came back with. */
interface Chunk {
  start: number
  members: ChunkMember[]
  owner: string
  /** The states, or the store's failure as its reason (never thrown). */
  claimed: Promise<ClaimState[] | string>
}

/**
 * One invocation's messages through the fleet store: add() them as they are planned, in batch order, then
 * finish() once. Invariants: chunks cover items in order without gaps; a chunk's claim is in flight from the
 * moment it is full; nothing reaches the pool before every claim is back; every chunk claimed is settled.
 */
export class FleetRun {
  private readonly items: FleetItem[] = []
  private readonly chunks: Chunk[] = []
  private readonly outcomes: FleetOutcome[] = []
  /** For each broken message group: the earliest position that failed, and why. */
  private readonly broken = new Map<string, { at: number; reason: string }>()
  /** The same for each topic, of messages without a group. */
  private readonly heldTopics = new Map<string, { at: number; reason: string }>()
  readonly stats: FleetStats = { keys: 0, claimed: 0, takenOver: 0, duplicates: 0, busy: 0, released: 0, permits: 0, roundTrips: 0 }
  private storeFailure: string | undefined
  /** The sizes of the chunks, as planned for the batch's size; what is left at finish() is the last one. */
  private readonly sizes: number[]

  constructor(
    private readonly connection: FleetConnection,
    private readonly limiter: FleetRateLimiter | undefined,
    private readonly windowMs: number,
    private readonly call: FleetInvocation,
  ) {
    this.sizes = claimChunks(call.expected)
  }

  /** The next message in batch order; a full chunk's claim is sent now. */
  add(item: FleetItem): void {
    this.items.push(item)
    if (this.items.length - this.claimedUpTo >= (this.sizes[this.chunks.length] ?? Number.POSITIVE_INFINITY)) this.claimRest()
  }

  /**
   * Publishes what is ours; one outcome per item added, in order, and `settled`, which the invocation awaits
   * before it returns: it marks what was delivered complete while the caller records the results.
   */
  async finish(publish: PublishChunk): Promise<{ outcomes: FleetOutcome[]; droppedV5Properties: number; settled: Promise<FleetStats> }> {
    this.claimRest()
    const claims = await Promise.all(this.chunks.map((c) => c.claimed))
    const mine: number[] = []
    // Once the store failed on one chunk, it is not trusted for the later ones either.
    for (const [k, states] of claims.entries()) {
      const { start, members } = this.chunks[k]!
      if (typeof states === 'string') this.storeFailure ??= states
      if (this.storeFailure !== undefined) for (let j = 0; j < members.length; j++) this.fail(start + j, unchecked(this.storeFailure))
      else for (const [j, s] of (states as ClaimState[]).entries()) this.classify(start + j, s, mine)
    }
    const dropped = await this.publish(mine, publish)
    if (this.stats.takenOver > 0) {
      this.call.log.info({
        event: 'fleet.claims-taken-over',
        count: this.stats.takenOver,
        note: 'claims of invocations that ended without settling (killed or timed out) were taken over; what they had published may be published again',
      })
    }
    return { outcomes: this.outcomes, droppedV5Properties: dropped, settled: this.settle(claims).then(() => this.stats) }
  }

  private get claimedUpTo(): number {
    const last = this.chunks.at(-1)
    return last ? last.start + last.members.length : 0
  }

  /** Claims the items added since the last claim, as one chunk. */
  private claimRest(): void {
    const start = this.claimedUpTo
    if (start === this.items.length) return
    const members = this.items.slice(start).map((it) => ({ ruleId: it.publish.ruleId, key: it.key }))
    const owner = `${this.call.token}.${this.chunks.length}`
    const { calls, positions } = claimCalls(members, owner, this.call.end - Date.now() + CLAIM_MARGIN_MS, this.windowMs)
    let claimed: Promise<ClaimState[] | string>
    if (calls.length === 0) claimed = Promise.resolve(claimStates(members, positions, []))
    else {
      this.stats.roundTrips++
      claimed = this.connection
        .run(calls, this.call.deadline, 'claiming messages')
        .then((replies) => claimStates(members, positions, replies))
        .catch((err: Error) => err.message)
    }
    this.chunks.push({ start, members, owner, claimed })
  }

  private classify(i: number, s: ClaimState, mine: number[]): void {
    if (s !== 'unkeyed') this.stats.keys++
    if (s === 'duplicate') {
      this.stats.duplicates++
      this.outcomes[i] = DUPLICATE
    } else if (s === 'busy') {
      this.stats.busy++
      this.fail(i, BUSY)
    } else {
      if (s === 'claimed') this.stats.claimed++
      if (s === 'taken-over') this.stats.takenOver++
      mine.push(i)
    }
  }

  /**
   * Failures are recorded out of order (a claim's at once, the broker's later): a group breaks at its earliest.
   * A topic is held back only for a failure of this send (`sent`): a message busy elsewhere is another
   * invocation's to publish, and concurrent batches were never ordered with each other (docs/rules.md).
   */
  private fail(i: number, reason: string, sent = false): void {
    this.outcomes[i] = { kind: 'failed', reason }
    const { group, publish } = this.items[i]!
    if (group === undefined && !sent) return
    const [held, key, why] = group === undefined ? [this.heldTopics, publish.topic, heldBack] : [this.broken, group, groupHeldBack]
    const b = held.get(key)
    if (b === undefined || i < b.at) held.set(key, { at: i, reason: why(reason) })
  }

  /** A later message of a group (or, without one, of a topic) that failed before it; undefined when it may go. */
  private brokenBefore(i: number): string | undefined {
    const { group, publish } = this.items[i]!
    const b = group === undefined ? this.heldTopics.get(publish.topic) : this.broken.get(group)
    return b !== undefined && b.at < i ? b.reason : undefined
  }

  /** Publishes these positions, in order, as the fleet's permits allow; returns the MQTT 5 property sets dropped. */
  private async publish(positions: number[], publish: PublishChunk): Promise<number> {
    const { deadline } = this.call
    const ordered = this.items.some((it) => it.group !== undefined)
    let dropped = 0
    let rest = positions
    while (rest.length > 0) {
      rest = rest.filter((i) => {
        const reason = this.brokenBefore(i)
        if (reason !== undefined) this.outcomes[i] = { kind: 'failed', reason }
        return reason === undefined
      })
      if (rest.length === 0) break
      let take = rest.length
      if (this.limiter) {
        try {
          this.stats.roundTrips++
          take = await this.limiter.acquire(rest.length, deadline)
        } catch (err) {
          this.storeFailure = (err as Error).message
          for (const i of rest) this.fail(i, unchecked(this.storeFailure))
          break
        }
        if (take === 0) {
          const reason = `no permit of FLEET_RATE_LIMIT=${this.limiter.rate} before the invocation's deadline`
          for (const i of rest) this.fail(i, reason)
          break
        }
        this.stats.permits += take
      }
      const slice = rest.slice(0, take)
      rest = rest.slice(take)
      const r = await publish(
        slice.map((i) => this.items[i]!.publish),
        ordered ? slice.map((i) => this.items[i]!.group) : undefined,
      )
      dropped += r.droppedV5Properties
      r.outcomes.forEach((o, j) => {
        if (o.kind === 'failed') this.fail(slice[j]!, o.reason, true)
        else this.outcomes[slice[j]!] = o
      })
    }
    return dropped
  }

  /**
   * Marks what was delivered complete and releases the rest, for every chunk the store claimed (a claim that
   * got through before the store failed on another is given back, unpublished), in one exchange. A chunk whose
   * claim failed may have been claimed all the same (one rule's script refused beside another's that ran): on a
   * connection still answering, its keys are given back too, so they do not hold this batch's retries off until
   * the claim TTL. SETTLE frees only what this owner holds, so it is safe where nothing was claimed.
   */
  private async settle(claims: Array<ClaimState[] | string>): Promise<void> {
    const calls: ScriptCall[] = []
    const answering = this.connection.isLive
    claims.forEach((states, k) => {
      const failed = typeof states === 'string'
      if (failed && !answering) return
      const { start, members, owner } = this.chunks[k]!
      const claimed = failed ? members.map((): ClaimState => 'claimed') : states
      const s = settleCalls(members, claimed, (j) => !failed && this.outcomes[start + j]?.kind === 'delivered', owner, this.windowMs)
      if (!failed) this.stats.released += s.released
      calls.push(...s.calls)
    })
    if (calls.length === 0) return
    this.stats.roundTrips++
    const { deadline, end, log } = this.call
    try {
      // Never awaited past the invocation's end, where Function Compute would count a timeout.
      const until = Math.min(end, Math.max(deadline, end - SETTLE_MARGIN_MS, Date.now() + SETTLE_AT_LEAST_MS))
      await this.connection.run(calls, until, 'settling claims')
    } catch (err) {
      log.warn({
        event: 'fleet.settle-failed',
        reason: (err as Error).message,
        note: 'the messages were published (or not) as the summary says; their claims stay until the invocation would have timed out, and a redelivery after that publishes them again',
      })
    }
  }
}
