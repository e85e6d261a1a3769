// MQTT_RATE_LIMIT: messages per second per connection, paced as GCRA (the generic cell rate algorithm).
//
// `due` is when the next message would be due if they went out evenly, one every `interval` ms. A message
// may go `tolerance` ms before it is due, so the window writes short bursts (about BURST_MS's worth) and
// sleeps between them, instead of one timer per message: a timer never fires in under 1 ms and often
// fires late. A late wake-up does not reset the schedule: `due` keeps its place, and the messages the
// late timer owes go out at once, up to the tolerance. The average holds at the setting; over any span
// of t ms at most rate × t / 1000 messages plus one burst go out (docs/performance.md, "The rate limit").

/** A burst holds about this many milliseconds' worth of messages (ApsaraMQ for MQTT's ~20 msg/s per client: one). */
const BURST_MS = 25
/** The shortest sleep worth a timer when a burst may follow it. */
const MIN_SLEEP_MS = 4

export class TokenBucket {
  private readonly interval: number
  private readonly tolerance: number
  private readonly minSleep: number
  private due = Number.NEGATIVE_INFINITY

  constructor(perSecond: number) {
    this.interval = 1000 / perSecond
    this.tolerance = Math.max(0, BURST_MS - this.interval)
    this.minSleep = Math.min(MIN_SLEEP_MS, Math.max(1, this.tolerance))
  }

  /** The most messages that may go out at one moment. */
  get burst(): number {
    return Math.max(1, Math.floor(1 + this.tolerance / this.interval))
  }

  /** Takes a token and returns 0, or returns how many whole ms to wait (at least what a timer can) before one is available. */
  take(now: number): number {
    const earliest = this.due - this.tolerance
    if (now >= earliest) {
      this.due = Math.max(this.due, now) + this.interval
      return 0
    }
    return Math.max(Math.ceil(earliest - now), this.minSleep)
  }
}
