// Poison isolation (docs/reliability.md): what one connection's share still has to send, and how. Normally
// the rest goes through the window. After a connection loss, whatever was written but not confirmed is
// resent one message at a time, each on a connection that has just answered a PINGREQ, so a message that
// makes the broker close the connection each time it is sent is known: the second time, it is refused
// (a dead letter) and the rest of the batch goes on. A broker that is down stays a transient failure.
import { blames, type Loss } from './classify.js'
import type { PassResult } from './outcome.js'

/** How the next pass is made: one suspect alone, or the rest through the window. */
export interface NextPass {
  indices: number[]
  alone: boolean
}

/** Losses in a row that settled nothing and found no poison, after which the share fails as transient. */
const MAX_FRUITLESS_LOSSES = 2

export class Isolation {
  private rest: number[]
  /** Written when a connection was lost, not confirmed: resent one at a time, in order. */
  private suspects: number[] = []
  /** For each message, the losses that happened while it was alone in flight or among the unconfirmed. */
  private readonly losses = new Map<number, Loss[]>()
  private fruitless = 0

  constructor(count: number) {
    this.rest = Array.from({ length: count }, (_, i) => i)
  }

  get done(): boolean {
    return this.suspects.length === 0 && this.rest.length === 0
  }

  next(): NextPass {
    return this.suspects.length > 0 ? { indices: [this.suspects[0]!], alone: true } : { indices: this.rest, alone: false }
  }

  /** What is left to send, suspects first: for failing it when the share gives up. */
  remaining(): number[] {
    return [...this.suspects, ...this.rest]
  }

  /**
   * Takes in a pass made as `next()` said. Returns the poison found (an index, with every loss it was sent
   * into), or `give up` when the losses stopped making progress, or undefined to go on.
   */
  record(pass: NextPass, r: PassResult): { poison: number; losses: Loss[] } | 'give up' | undefined {
    if (!r.loss) {
      // Settled, or failed on a timeout the caller ends the share with.
      if (pass.alone) this.suspects.shift()
      else this.rest = []
      if (r.settled > 0) this.fruitless = 0
      return undefined
    }
    const loss = r.loss
    let progress = r.settled > 0
    let poison: { poison: number; losses: Loss[] } | undefined
    if (pass.alone) {
      const k = this.suspects[0]!
      // Settled before the loss: done. Lost before it was written: sent alone again, blaming nothing.
      if (r.unconfirmed.length === 0 && r.unsent.length === 0) this.suspects.shift()
      else if (r.unconfirmed.length > 0 && blames(loss)) {
        const seen = this.blame(k, loss)
        // Twice: once among the unconfirmed of a loss, then alone on a healthy connection (or alone twice).
        if (seen.length >= 2) {
          this.suspects.shift()
          poison = { poison: k, losses: seen }
          progress = true
        }
      }
    } else {
      this.suspects = r.unconfirmed
      this.rest = r.unsent
      if (blames(loss)) for (const k of r.unconfirmed) this.blame(k, loss)
    }
    if (progress) this.fruitless = 0
    else if (++this.fruitless >= MAX_FRUITLESS_LOSSES) return 'give up'
    return poison
  }

  /** A new connection that did not answer its PINGREQ: the broker, not a message, is the trouble. */
  unhealthy(): 'give up' | undefined {
    return ++this.fruitless >= MAX_FRUITLESS_LOSSES ? 'give up' : undefined
  }

  private blame(k: number, loss: Loss): Loss[] {
    const seen = this.losses.get(k) ?? []
    seen.push(loss)
    this.losses.set(k, seen)
    return seen
  }
}
