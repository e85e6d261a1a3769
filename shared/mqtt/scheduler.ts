// The scheduler of one pass of the publish window: what may be written next. The window (at most
// `maxInFlight` unacknowledged, at most MAX_UNWRITTEN_QOS0 waiting for their write), the rate limit, and
// with ordered rules the message groups (group-order.ts). It reads the in-flight counts from the
// acknowledgement ledger and never writes anything itself. The invariants of both are in publish-window.ts.
import type { Clock, Timer } from './clock.js'
import { GroupOrder } from './group-order.js'
import type { TokenBucket } from './token-bucket.js'
import { MAX_UNWRITTEN_QOS0, type WindowOptions } from './window-client.js'

/** The next step: write a position, fail one whose group broke earlier (never written), or wait for an answer or the rate limit. */
export type Next = { kind: 'write'; position: number } | { kind: 'fail'; position: number; reason: string } | { kind: 'wait' }

const WAIT: Next = { kind: 'wait' }

export class Scheduler {
  /** The cursor: positions below it were taken, or (ordered rules) wait in their group's queue, or were failed with their group. */
  private next = 0
  /** With ordered rules: one message in flight per group, and the short-circuit after a failure. */
  private readonly order: GroupOrder | undefined
  /** Set while the rate limit makes the next publish wait. */
  private paced: Timer | undefined

  constructor(
    private readonly count: number,
    private readonly maxInFlight: number,
    private readonly clock: Clock,
    private readonly bucket: TokenBucket | undefined,
    groups: WindowOptions['groups'],
    indices: readonly number[],
  ) {
    this.order = groups?.of.some((g) => g !== undefined) ? new GroupOrder((k) => groups.of[indices[k]!], groups.broken) : undefined
  }

  /** Nothing is left at the cursor: what is not settled is in flight or waits for its group. */
  get allTaken(): boolean {
    return this.next === this.count
  }

  /** What comes next, given what the ledger says is in flight and waiting for its write. */
  choose(inFlight: number, unwritten: number): Next {
    if (this.paced || inFlight >= this.maxInFlight || unwritten >= MAX_UNWRITTEN_QOS0) return WAIT
    const order = this.order
    if (!order) return this.next < this.count ? { kind: 'write', position: this.next } : WAIT
    const ready = order.peekReady()
    if (ready !== undefined) return { kind: 'write', position: ready }
    while (this.next < this.count) {
      const k = this.next
      const broken = order.brokenReason(k)
      if (broken !== undefined) {
        this.next++
        return { kind: 'fail', position: k, reason: broken }
      }
      if (!order.holds(k)) return { kind: 'write', position: k }
      this.next++
    }
    return WAIT
  }

  /**
   * Whether the rate limit makes the chosen position wait: then `wake` runs once a token is due. Asked just
   * before the position is written, after the checks that may refuse it unwritten, which take no token.
   */
  paces(wake: () => void): boolean {
    const wait = this.bucket?.take(this.clock.now()) ?? 0
    if (wait <= 0) return false
    this.paced = this.clock.setTimeout(() => {
      this.paced = undefined
      wake()
    }, wait)
    return true
  }

  /** Takes the chosen position: the cursor moves past it, or it leaves its group's queue; `written` holds its group. */
  taken(k: number, written: boolean): void {
    if (k === this.next) this.next++
    this.order?.taken(k, written)
  }

  /** The message at `k` no longer holds its group (acknowledged, refused, or a QoS 0 message written). */
  released(k: number): void {
    this.order?.released(k)
  }

  /** The message at `k` failed for a transient reason: its group breaks. Returns its waiting messages, each with its reason. */
  broke(k: number, cause: string): Array<{ position: number; reason: string }> {
    const order = this.order
    if (!order) return []
    return order.fail(k, cause).map((position) => ({ position, reason: order.brokenReason(position)! }))
  }

  stop(): void {
    this.clock.clearTimeout(this.paced)
    this.paced = undefined
  }
}
