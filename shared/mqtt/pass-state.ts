// The state of each position of one pass of the publish window (the invariants are in publish-window.ts), and
// what the pass reports when it ends: what was settled, what was written but not confirmed, what was never
// written.
import type { Loss } from './loss.js'
import type { PassResult, PublishOutcome } from './outcome.js'

export const UNSENT = 0
/** Handed to MQTT.js: a QoS 1/2 message not yet answered, a QoS 0 message not yet written to the socket. */
export const SENT = 1
/** A QoS 0 message written to the socket, not yet known to be read by the broker. */
export const WRITTEN = 2
export const SETTLED = 3
/** Failed at its timeout while the broker answered others; still owed, so it keeps its place in the window. */
export const ABANDONED = 4

export type Ending = { loss: Loss } | { timedOut: string }

export const DEADLINE_REASON =
  'the invocation deadline (Function Compute timeout less a safety margin) was reached before the broker acknowledged'

export interface PassCounts {
  settled: number
  acknowledged: number
  dropped: number
  downgraded: number
  /** Positions given up on at their timeout and still owed: the connection must not carry another pass. */
  abandoned: number
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
      if (s === SETTLED || s === ABANDONED) continue
      if ('timedOut' in ending) outcomes[indices[k]!] = { kind: 'failed', reason: ending.timedOut }
      else (s === UNSENT ? unsent : unconfirmed).push(indices[k]!)
    }
  }
  const { abandoned, ...rest } = counts
  return {
    unconfirmed,
    unsent,
    ...(ending && 'loss' in ending ? { loss: ending.loss } : {}),
    ...(ending && 'timedOut' in ending ? { timedOut: ending.timedOut } : {}),
    ...rest,
    broken: ending !== undefined || abandoned > 0,
  }
}
