// The state of each position of one pass of the publish window, and what the pass reports when it ends:
// what was settled, what was written but not confirmed, what was never written.
import type { Loss } from './classify.js'
import type { PassResult, PublishOutcome } from './outcome.js'

export const UNSENT = 0
export const SENT = 1
/** A QoS 0 message written to the socket, not yet known to be read by the broker. */
export const WRITTEN = 2
export const SETTLED = 3

export type Ending = { loss: Loss } | { timedOut: string }

export const DEADLINE_REASON =
  'the invocation deadline (Function Compute timeout less a safety margin) was reached before the broker acknowledged'

/**
 * Whether a message written before `before` is still unconfirmed, among positions `from` to `to`. Written in
 * position order (no message groups), the first one unconfirmed is the oldest and the only one to look at.
 */
export function overdue(state: Uint8Array, sentAt: Float64Array, from: number, to: number, before: number, inOrder: boolean): boolean {
  for (let k = from; k < to; k++) {
    const s = state[k]
    if (s !== SENT && s !== WRITTEN) continue
    if (sentAt[k]! < before) return true
    if (inOrder) return false
  }
  return false
}

export interface PassCounts {
  settled: number
  dropped: number
  downgraded: number
}

/**
 * The pass's report. On a timeout every unsettled message fails with it (written into `outcomes`); on a lost
 * connection they are listed, written but unconfirmed apart from never written, in the order of the pass.
 */
export function passResult(
  state: Uint8Array,
  indices: readonly number[],
  outcomes: PublishOutcome[],
  counts: PassCounts,
  ending: Ending | undefined,
): PassResult {
  const unconfirmed: number[] = []
  const unsent: number[] = []
  if (ending) {
    for (let k = 0; k < state.length; k++) {
      const s = state[k]
      if (s === SETTLED) continue
      if ('timedOut' in ending) outcomes[indices[k]!] = { kind: 'failed', reason: ending.timedOut }
      else (s === UNSENT ? unsent : unconfirmed).push(indices[k]!)
    }
  }
  return {
    unconfirmed,
    unsent,
    ...(ending && 'loss' in ending ? { loss: ending.loss } : {}),
    ...(ending && 'timedOut' in ending ? { timedOut: ending.timedOut } : {}),
    ...counts,
    broken: ending !== undefined,
  }
}
