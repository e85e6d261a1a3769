// The delayed-ACK stall (docs/reliability.md, "The delayed-ACK stall"). A broker that leaves Nagle's
// algorithm on (Mosquitto's default) holds what it writes while its previous segment is unacknowledged by
// the client's kernel, and that kernel, with nothing to send, delays its ACK by about 40 ms: every batch
// waited for that timer at its end, and mid-batch whenever the window was full. Any write from the client
// carries the ACK at once. So when a packet has arrived, nothing was written since, and the broker still owes
// an acknowledgement, a PINGREQ is written once the packets of that arrival are handled. Only data received
// and not yet answered by a write can sit behind a delayed ACK, so nothing is written while the client is
// writing anyway or nothing is outstanding; and a stall (the time between two acknowledgements) gets at
// most MAX_NUDGES_PER_STALL PINGREQs, the later ones only after NUDGE_QUIET_MS without an arrival.
import type { Clock, Timer } from './clock.js'

/** The silence before a second or third PINGREQ in one stall: far above a loopback round trip, far below the 40 ms timer. */
export const NUDGE_QUIET_MS = 1
/** PINGREQs between two acknowledgements: the first releases the broker's segments; the others cover a slow broker. */
export const MAX_NUDGES_PER_STALL = 3

export class AckNudge {
  /** A packet arrived after the client's last write: its ACK may be waiting for the delayed-ACK timer. */
  private unanswered = false
  private heardAt = 0
  /** PINGREQs written since the last acknowledgement. */
  private nudges = 0
  private timer: Timer | undefined
  private immediate: Timer | undefined
  private stopped = false
  /** PINGREQs written, for the tests and the benchmark. */
  sent = 0

  constructor(
    private readonly clock: Clock,
    /** Writes a PINGREQ. */
    private readonly ping: () => void,
    /** Whether the broker still owes an acknowledgement (or the PINGRESP that confirms a QoS 0 message). */
    private readonly outstanding: () => boolean,
  ) {}

  /** The client wrote a packet (any): that write carried the ACK for everything received before it. */
  wrote(): void {
    this.unanswered = false
  }

  /** A packet arrived; `acknowledgement` when it answers a publish, which ends a stall. */
  heard(acknowledgement: boolean): void {
    if (this.stopped) return
    if (acknowledgement) this.nudges = 0
    this.unanswered = true
    this.heardAt = this.clock.now()
    if (this.nudges === 0) this.immediate ??= this.clock.setImmediate(this.onImmediate)
    else this.timer ??= this.clock.setTimeout(this.onQuiet, NUDGE_QUIET_MS)
  }

  stop(): void {
    this.stopped = true
    this.clock.clearImmediate(this.immediate)
    this.clock.clearTimeout(this.timer)
    this.immediate = undefined
    this.timer = undefined
  }

  private readonly onImmediate = (): void => {
    this.immediate = undefined
    this.nudgeIfStalled()
  }

  private readonly onQuiet = (): void => {
    this.timer = undefined
    if (!this.unanswered) return
    // Something arrived since the timer was set: the silence counts from that arrival.
    const wait = this.heardAt + NUDGE_QUIET_MS - this.clock.now()
    if (wait > 0) this.timer = this.clock.setTimeout(this.onQuiet, wait)
    else this.nudgeIfStalled()
  }

  private nudgeIfStalled(): void {
    if (this.stopped || !this.unanswered || !this.outstanding() || this.nudges >= MAX_NUDGES_PER_STALL) return
    this.nudges++
    this.sent++
    this.ping()
  }
}
