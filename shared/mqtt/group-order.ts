// Ordered delivery per message group (docs/rules.md, "Ordered delivery per message group"), within one pass
// of the publish window. A message of a group is written only when no earlier message of its group is in
// flight, and only after every earlier message of its topic was written, so the per-topic order holds too;
// everything else flows past a waiting group. A group whose message failed for a transient reason is
// broken for the rest of the invocation (the set outlives the pass): its later messages are not sent and
// fail as well, so the batch is retried and the group's order never breaks (Powertools'
// SqsFifoPartialProcessor is the model). A message the broker refused does not break its group: it is a
// dead letter, and a retry could never deliver it.

/** Groups broken in this invocation, each with the reason its later messages give. */
export type BrokenGroups = Map<string, string>

export class GroupOrder {
  private readonly inFlight = new Set<string>()
  /** Positions waiting, in pass order, per group and per topic. */
  private readonly byGroup = new Map<string, Fifo>()
  private readonly byTopic = new Map<string, Fifo>()
  /** Positions taken out of the queues (failed with their group); skipped when met. */
  private readonly gone: Uint8Array
  /** Waiting positions free to go: heads of their topic and group queues, their group idle. */
  private readonly ready: number[] = []

  constructor(
    count: number,
    private readonly groupOf: (position: number) => string | undefined,
    private readonly topicOf: (position: number) => string,
    private readonly broken: BrokenGroups,
  ) {
    this.gone = new Uint8Array(count)
  }

  /** Why the message at `position` is not to be sent: its group broke earlier in this invocation. */
  brokenReason(position: number): string | undefined {
    const g = this.groupOf(position)
    return g === undefined ? undefined : this.broken.get(g)
  }

  /** Whether the message at the cursor must wait; if so, it is queued behind its group or topic. */
  holds(position: number): boolean {
    const g = this.groupOf(position)
    const t = this.topicOf(position)
    const topicWaits = this.head(this.byTopic, t) !== undefined
    const groupWaits = g !== undefined && (this.inFlight.has(g) || this.head(this.byGroup, g) !== undefined)
    if (!topicWaits && !groupWaits) return false
    append(this.byTopic, t, position)
    if (g !== undefined) append(this.byGroup, g, position)
    return true
  }

  /** The next waiting message free to go, if any (the caller takes it, or leaves it for later). */
  peekReady(): number | undefined {
    return this.ready[0]
  }

  /** The message at `position` leaves the queues (written, or refused unwritten); `inFlight` when written. */
  taken(position: number, inFlight: boolean): void {
    const g = this.groupOf(position)
    if (inFlight && g !== undefined) this.inFlight.add(g)
    if (this.ready[0] !== position) return
    this.ready.shift()
    const t = this.topicOf(position)
    this.byTopic.get(t)!.shift(this.gone)
    if (g !== undefined) this.byGroup.get(g)!.shift(this.gone)
    this.consider(this.head(this.byTopic, t))
    // Refused unwritten, it never held its group: the group's next message may go too.
    if (!inFlight && g !== undefined) this.consider(this.head(this.byGroup, g))
  }

  /** The message at `position` no longer holds its group: acknowledged, refused, or (QoS 0) written. */
  released(position: number): void {
    const g = this.groupOf(position)
    if (g === undefined || !this.inFlight.delete(g)) return
    this.consider(this.head(this.byGroup, g))
  }

  /**
   * The message at `position` failed for a transient reason (`cause`): its group breaks. Returns the group's
   * waiting messages, out of the queues, for the caller to fail with the reason `brokenReason` now gives.
   */
  fail(position: number, cause: string): number[] {
    const g = this.groupOf(position)
    if (g === undefined) return []
    this.inFlight.delete(g)
    if (!this.broken.has(g))
      this.broken.set(
        g,
        `not sent: an earlier message of its message group was not delivered (${cause}); the batch is retried so that the group keeps its order`,
      )
    const waiting = this.byGroup.get(g)?.drain(this.gone) ?? []
    this.byGroup.delete(g)
    const topics = new Set<string>()
    for (const k of waiting) {
      this.gone[k] = 1
      topics.add(this.topicOf(k))
    }
    for (const t of topics) this.consider(this.head(this.byTopic, t))
    return waiting
  }

  private head(queues: Map<string, Fifo>, key: string): number | undefined {
    const q = queues.get(key)
    const k = q?.peek(this.gone)
    if (q && k === undefined) queues.delete(key)
    return k
  }

  /** Puts `position` on the ready list if it is the head of its queues and its group is idle. */
  private consider(position: number | undefined): void {
    if (position === undefined || this.ready.includes(position)) return
    if (this.head(this.byTopic, this.topicOf(position)) !== position) return
    const g = this.groupOf(position)
    if (g !== undefined && (this.inFlight.has(g) || this.head(this.byGroup, g) !== position)) return
    this.ready.push(position)
  }
}

/** A queue of positions that skips those marked gone. */
class Fifo {
  private readonly items: number[] = []
  private first = 0

  push(position: number): void {
    this.items.push(position)
  }

  peek(gone: Uint8Array): number | undefined {
    while (this.first < this.items.length && gone[this.items[this.first]!] === 1) this.first++
    return this.items[this.first]
  }

  /** Removes the head (the position peek() returns). */
  shift(gone: Uint8Array): void {
    this.peek(gone)
    this.first++
  }

  /** What is left, in order, less the positions gone. */
  drain(gone: Uint8Array): number[] {
    return this.items.slice(this.first).filter((k) => gone[k] !== 1)
  }
}

function append(queues: Map<string, Fifo>, key: string, position: number): void {
  let q = queues.get(key)
  if (!q) {
    q = new Fifo()
    queues.set(key, q)
  }
  q.push(position)
}
