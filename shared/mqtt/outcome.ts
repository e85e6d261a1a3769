// What became of each publish: data, not exceptions (docs/architecture.md, "Bridge function").

export type PublishOutcome =
  | { kind: 'delivered' }
  /** The broker refused this message (reason code >= 0x80, not transient): a dead letter. */
  | { kind: 'refused'; reason: string; code?: number }
  /** Transient (unreachable, timed out, lost, deadline): the invocation is retried. */
  | { kind: 'failed'; reason: string }

export interface PublishResult {
  /** One per publish, in the order given. */
  outcomes: PublishOutcome[]
  /** MQTT 5 property sets left out because the connection speaks 3.1.1. */
  droppedV5Properties: number
}

/** Shared and frozen: a batch of 10,000 need not allocate 10,000 of them. */
export const DELIVERED: PublishOutcome = Object.freeze({ kind: 'delivered' })
