/**
 * MQTT_RATE_LIMIT: messages per second per connection. The bucket holds one token, so publishes are
 * paced evenly rather than burst: ApsaraMQ for MQTT asks for about 20 messages/s per client.
 */
export class TokenBucket {
  private readonly intervalMs: number
  private next = 0

  constructor(perSecond: number) {
    this.intervalMs = 1000 / perSecond
  }

  /** Takes a token and returns 0, or returns how many ms to wait before one is available. */
  take(now: number): number {
    if (now < this.next) return this.next - now
    this.next = Math.max(now, this.next) + this.intervalMs
    return 0
  }
}
