// Poison isolation (docs/reliability.md, "Poison isolation"): what one connection's share still has to send,
// how, and what the losses of the connection say. Normally the rest goes through the window. After a loss,
// whatever was written but not confirmed is resent one message at a time, each on a connection that has just
// answered a PINGREQ. A message is poison only when evidence singles it out:
// - the broker's DISCONNECT names the packet (0x95 Packet too large, …) while that message alone was unacknowledged;
// - or it was lost alone twice in a row, after a message the broker acknowledged, and the message sent next
//   (the probe) is acknowledged too: the broker takes other messages, not this one.
// When the connection is lost whatever is written (the probe lost as well: messages in a row, small ones
// included), or the broker gives its own reason (session taken over, shutting down), or the losses pile up,
// it is the broker's trouble: what is left fails as transient and the invocation is retried.
import { describeLoss, type Loss, meaningOf, type PoisonEvidence } from './loss.js'
import type { PassResult } from './outcome.js'

/** How the next pass is made: one suspect alone, or the rest through the window. */
export interface NextPass {
  indices: number[]
  alone: boolean
}

/** What a pass decided: a message singled out as poison, the broker's trouble (`transient`, why), both (in that order), or neither. */
export interface Verdict {
  poison?: { index: number; evidence: PoisonEvidence }
  transient?: string
}

/** Connections lost in one share of one invocation, after which what is left waits for the retry. */
export const MAX_LOSSES = 16
/** Losses in a row that wrote nothing or blamed nothing (a silent broker, a new connection that drops at once). */
const MAX_FRUITLESS = 2

const NOTHING: Verdict = {}

export class Isolation {
  private rest: number[]
  /** Written when a connection was lost, not confirmed: resent one at a time, in order (a probe may go first). */
  private suspects: number[] = []
  /** The head suspect's losses while alone, in a row, and whether the message before its first was acknowledged. */
  private headLosses: Loss[] = []
  private headBefore = false
  /**
   * Lost alone twice; its probe decides: acknowledged, this one is poison; lost, the broker is the trouble.
   * Invariant (checked at the end of every `record`): while `pending` is set, its probe is the head of
   * `suspects`. A probe that settles without an acknowledgement, or none at all, ends it there and then.
   */
  private pending: { index: number; losses: Loss[]; before: boolean; probe: number | undefined } | undefined
  /** Whether the last pass ended with an acknowledgement of the broker's. */
  private lastAcked = false
  private losses = 0
  private lostInARow = 0
  private fruitless = 0

  /**
   * `keyOf(i)`: what message i keeps its order with (its message group, else its topic and QoS). The probe is
   * one with another key where there is one, so that nothing overtakes an earlier message of its own.
   */
  constructor(
    count: number,
    private readonly keyOf: (index: number) => string,
  ) {
    this.rest = Array.from({ length: count }, (_, i) => i)
  }

  get done(): boolean {
    return this.suspects.length === 0 && this.rest.length === 0 && this.pending === undefined
  }

  next(): NextPass {
    return this.suspects.length > 0 ? { indices: [this.suspects[0]!], alone: true } : { indices: this.rest, alone: false }
  }

  /** What is left to send: for failing it when the share stops. */
  remaining(): number[] {
    return [...(this.pending ? [this.pending.index] : []), ...this.suspects, ...this.rest]
  }

  /** Takes in a pass made as `next()` said. */
  record(pass: NextPass, r: PassResult): Verdict {
    const verdict = this.take(pass, r)
    const pending = this.pending
    if (verdict.transient !== undefined || pending === undefined || (pending.probe !== undefined && this.suspects[0] === pending.probe))
      return verdict
    // The probe settled without an acknowledgement of the broker's (a QoS 0 message, whose PINGRESP shows only
    // that the broker read it, not that it took it; one expired, refused unwritten or failed with its group),
    // or there was none: nothing written after it speaks, so the acknowledged message before it decides alone.
    // Leaving `pending` open would make `next()` a pass that writes nothing (docs/reliability.md, "Poison isolation").
    if (!pending.before) return { ...verdict, transient: this.inARow(pending.losses.at(-1)!) }
    this.pending = undefined
    const { index, losses } = pending
    return { ...verdict, poison: { index, evidence: { kind: 'neighbours', losses, before: true, after: false } } }
  }

  private take(pass: NextPass, r: PassResult): Verdict {
    let verdict = NOTHING
    if (this.pending && r.acknowledged > 0) {
      const { index, losses, before } = this.pending
      this.pending = undefined
      verdict = { poison: { index, evidence: { kind: 'neighbours', losses, before, after: true } } }
    }
    if (!r.loss) {
      // Settled, or failed on a timeout the caller ends the share with.
      if (pass.alone) this.dropHead()
      else this.rest = []
      this.acked(r.acknowledged > 0)
      return verdict
    }
    const loss = r.loss
    const meaning = meaningOf(loss)
    this.losses++
    this.lostInARow = r.acknowledged > 0 ? 1 : this.lostInARow + 1
    // What the pass left unsettled, first: a verdict fails exactly that, and what was never sent.
    if (!pass.alone) {
      this.suspects = r.unconfirmed
      this.rest = r.unsent
      this.headLosses = []
    } else if (r.unconfirmed.length === 0 && r.unsent.length === 0) this.dropHead()
    if (meaning === 'brokers-own') return { ...verdict, transient: `it closed the connection for its own reason (${describeLoss(loss)})` }
    if (this.pending && r.unconfirmed.length > 0) return { ...verdict, transient: this.inARow(loss) }
    if (this.losses >= MAX_LOSSES)
      return { ...verdict, transient: `the connection was lost ${this.losses} times in this invocation (last: ${describeLoss(loss)})` }
    if (meaning === 'names-the-packet' && r.unconfirmed.length === 1) {
      // One message unconfirmed when the broker named the packet: that one, now the head of the suspects. Read
      // before dropHead: after a pass through the window, the suspects are r.unconfirmed itself.
      const index = r.unconfirmed[0]!
      this.dropHead()
      this.acked(false)
      return { ...verdict, poison: { index, evidence: { kind: 'named', loss } } }
    }
    // Lost in the window, or before the message alone was written (or after it settled): nothing singled out.
    if (!pass.alone || r.unconfirmed.length === 0) return this.fruitful(r.acknowledged > 0, loss, verdict)
    if (meaning === 'silent') return this.fruitful(false, loss, verdict)
    const k = this.suspects[0]!
    if (this.headLosses.length === 0) this.headBefore = this.lastAcked
    this.headLosses.push(loss)
    this.lastAcked = false
    this.fruitless = 0
    if (this.headLosses.length < 2) return verdict
    const losses = this.headLosses
    this.dropHead()
    // With nothing left to probe with, `record` lets what was written before it speak for the broker.
    this.pending = { index: k, losses, before: this.headBefore, probe: this.probe(k) ? this.suspects[0] : undefined }
    return verdict
  }

  /** A new connection that did not answer its PINGREQ: the broker, not a message, is the trouble. */
  unhealthy(): 'give up' | undefined {
    return ++this.fruitless >= MAX_FRUITLESS ? 'give up' : undefined
  }

  /**
   * Moves the probe for `k` to the head of the suspects: the first message left with another key, else the
   * next one. A QoS 0 probe is allowed but proves nothing (see `record`): only an acknowledgement does.
   */
  private probe(k: number): boolean {
    const key = this.keyOf(k)
    const other = (i: number) => this.keyOf(i) !== key
    const s = this.suspects.findIndex(other)
    if (s >= 0) this.suspects.unshift(...this.suspects.splice(s, 1))
    else {
      const r = this.rest.findIndex(other)
      if (r >= 0) this.suspects.unshift(...this.rest.splice(r, 1))
      else if (this.suspects.length === 0 && this.rest.length > 0) this.suspects.push(this.rest.shift()!)
    }
    return this.suspects.length > 0
  }

  private dropHead(): void {
    this.suspects.shift()
    this.headLosses = []
  }

  private acked(yes: boolean): void {
    this.lastAcked = yes
    if (!yes) return
    this.fruitless = 0
    this.lostInARow = 0
  }

  /** After a loss that moved nothing toward a verdict unless `progress`: too many in a row is the broker's trouble. */
  private fruitful(progress: boolean, loss: Loss, verdict: Verdict): Verdict {
    this.acked(progress)
    if (progress || ++this.fruitless < MAX_FRUITLESS) return verdict
    return {
      ...verdict,
      transient: `the connection was lost ${this.fruitless} times in a row before anything could be blamed (last: ${describeLoss(loss)})`,
    }
  }

  private inARow(last: Loss): string {
    return `the connection was lost whatever was written: ${this.lostInARow} times in a row with nothing acknowledged, messages sent alone included (last: ${describeLoss(last)})`
  }
}
