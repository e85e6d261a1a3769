// What became of each publish, and of one pass of the publish window: data, not exceptions
// (docs/architecture.md, "Bridge function").
import type { Loss } from './loss.js'

export type PublishOutcome =
  | { kind: 'delivered' }
  /** The broker refused this message (reason code >= 0x80, not transient): a dead letter. */
  | { kind: 'refused'; reason: string; code?: number }
  /**
   * Transient (unreachable, timed out, lost, deadline): the invocation is retried. `code`: a refusal's (0x87,
   * 0x83) that nothing singled out (wide-refusals.ts).
   */
  | { kind: 'failed'; reason: string; code?: number }
  /** Past its delivery deadline when its turn came (docs/rules.md, "Delivery deadlines"): never written. */
  | { kind: 'expired' }

export interface PublishResult {
  /** One per publish, in the order given. */
  outcomes: PublishOutcome[]
  /** MQTT 5 property sets left out because the connection speaks 3.1.1. */
  droppedV5Properties: number
}

/** Shared and frozen: a batch of 10,000 need not allocate 10,000 of them. */
export const DELIVERED: PublishOutcome = Object.freeze({ kind: 'delivered' })
export const EXPIRED: PublishOutcome = Object.freeze({ kind: 'expired' })

/** What one pass of the publish window (publish-window.ts) reports back to its connection. */
export interface PassResult {
  /** Written but not confirmed when the connection was lost: their fate is unknown. In the order sent. */
  unconfirmed: number[]
  /** Not yet written when the connection was lost. */
  unsent: number[]
  /** How the connection was lost, when it was. */
  loss?: Loss
  /** Set when the acknowledgement timeout or the deadline ended the pass: every unsettled one failed with it. */
  timedOut?: string
  /** Publishes settled in this pass (delivered, refused, or failed without a lost connection). */
  settled: number
  /** PUBLISH packets the broker answered in this pass (PUBACK, PUBREC or PUBCOMP, with an error code or not). */
  acknowledged: number
  /** MQTT 5 property sets left out. */
  dropped: number
  /** QoS 2 publishes the broker answered with a PUBACK: it delivers them at QoS 1, at least once. */
  downgraded: number
  /** Lost, timed out, past the deadline, or still owing a message given up on: the client must not be used again. */
  broken: boolean
}
