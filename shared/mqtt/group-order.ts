// Ordered delivery per message group (docs/rules.md, "Ordered delivery per message group"), within one pass
// of the publish window: a message of a group is written only when no earlier message of its group is in
// flight, and everything else, on whatever topic, flows past a group that waits. The order per topic and QoS
// gives way for grouped messages: a group that waits never holds another group up, even on a shared topic.
// A group whose message failed for a transient reason is broken for the rest of the invocation (the map
// outlives the pass): its later messages are not sent and fail as well, so the batch is retried and the
// group's order never breaks (Powertools' SqsFifoPartialProcessor is the model). A message the broker refused
// does not break its group: it is a dead letter, and a retry could never deliver it.

/** Groups broken in this invocation, each with the reason its later messages give. */
export type BrokenGroups = Map<string, string>

/** Why a later message of a group whose message failed for a transient reason (`cause`) is not sent. */
export const groupHeldBack = (cause: string) =>
  `not sent: an earlier message of its message group was not delivered (${cause}); the batch is retried so that the group keeps its order`

/** A message of group `g` failed for a transient reason (`cause`): the group's later messages stay unsent. */
export function groupBroken(broken: BrokenGroups, g: string, cause: string): void {
  if (!broken.has(g)) broken.set(g, groupHeldBack(cause))
}

export class GroupOrder {
  /** Groups with a message written and not yet released (acknowledged, refused, or, at QoS 0, written to the socket). */
  private readonly inFlight = new Set<string>()
  /** Positions waiting for their group, in pass order. */
  private readonly waiting = new Map<string, Fifo>()
  /** Waiting positions free to go: heads of their group's queue, their group idle; one per group at most. */
  private readonly ready: number[] = []

  constructor(
    private readonly groupOf: (position: number) => string | undefined,
    private readonly broken: BrokenGroups,
  ) {}

  /** Why the message at `position` is not to be sent: its group broke earlier in this invocation. */
  brokenReason(position: number): string | undefined {
    const g = this.groupOf(position)
    return g === undefined ? undefined : this.broken.get(g)
  }

  /** Whether the message at the cursor must wait for its group; if so, it is queued. A message without a group never waits. */
  holds(position: number): boolean {
    const g = this.groupOf(position)
    if (g === undefined) return false
    const queue = this.waiting.get(g)
    if (!queue && !this.inFlight.has(g)) return false
    if (queue) queue.push(position)
    else this.waiting.set(g, new Fifo(position))
    return true
  }

  /** The next waiting message free to go, if any (the caller takes it, or leaves it for later). */
  peekReady(): number | undefined {
    return this.ready[0]
  }

  /** The message at `position` is taken: written (`inFlight`: it holds its group), or refused unwritten. */
  taken(position: number, inFlight: boolean): void {
    const g = this.groupOf(position)
    if (g === undefined) return
    if (this.ready[0] === position) {
      this.ready.shift()
      const queue = this.waiting.get(g)!
      queue.shift()
      if (queue.empty) this.waiting.delete(g)
    }
    if (inFlight) this.inFlight.add(g)
    // Refused unwritten, it never held its group: the group's next message may go.
    else this.consider(g)
  }

  /** The message at `position` no longer holds its group: acknowledged, refused, or (QoS 0) written. */
  released(position: number): void {
    const g = this.groupOf(position)
    if (g === undefined || !this.inFlight.delete(g)) return
    this.consider(g)
  }

  /**
   * The message at `position` failed for a transient reason (`cause`): its group breaks. Returns the group's
   * waiting messages, out of the queue, for the caller to fail with the reason `brokenReason` now gives.
   */
  fail(position: number, cause: string): number[] {
    const g = this.groupOf(position)
    if (g === undefined) return []
    this.inFlight.delete(g)
    groupBroken(this.broken, g, cause)
    const queue = this.waiting.get(g)
    this.waiting.delete(g)
    // Its head may be ready (a QoS 0 message given up on after it released the group): it goes with the rest.
    const r = this.ready.findIndex((k) => this.groupOf(k) === g)
    if (r >= 0) this.ready.splice(r, 1)
    return queue ? queue.drain() : []
  }

  /** Puts the head of group `g`'s queue on the ready list when the group is idle. */
  private consider(g: string): void {
    const head = this.waiting.get(g)?.peek()
    if (head === undefined || this.inFlight.has(g) || this.ready.includes(head)) return
    this.ready.push(head)
  }
}

/** A queue of positions. */
class Fifo {
  private readonly items: number[]
  private first = 0

  constructor(position: number) {
    this.items = [position]
  }

  get empty(): boolean {
    return this.first === this.items.length
  }

  push(position: number): void {
    this.items.push(position)
  }

  peek(): number | undefined {
    return this.items[this.first]
  }

  shift(): void {
    this.first++
  }

  /** What is left, in order. */
  drain(): number[] {
    return this.items.slice(this.first)
  }
}
