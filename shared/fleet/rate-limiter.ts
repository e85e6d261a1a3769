// FLEET_RATE_LIMIT: messages per second for every instance together, from a token bucket in the fleet store
// (scripts.ts, RATE). The bucket holds a tenth of a second's worth, the burst: over any interval the fleet
// publishes at most the rate times the interval plus one burst. Each round trip asks for up to one burst and
// gets all of it or none, and says when the next will be there; the limiter waits until then before asking
// again, so one instance spends one round trip per refill. The per-connection MQTT_RATE_LIMIT still applies.
import { type Clock, systemClock } from '../mqtt/clock.js'
import type { FleetConnection } from './connection.js'
import { RATE_BUCKET, RATE_LOG } from './keys.js'

/** The refill the burst is sized for: a tenth of a second. */
const REFILL_MS = 100

export class FleetRateLimiter {
  /** Permits one grant holds at most, and the most the fleet may exceed the rate by. */
  readonly burst: number
  /** Not before this (epoch ms, local clock) is the next grant there: the store said so. */
  private notBefore = 0

  constructor(
    private readonly connection: FleetConnection,
    readonly rate: number,
    /** Who asks, in the store's log of grants: this instance. */
    private readonly who: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.burst = Math.max(1, Math.floor((rate * REFILL_MS) / 1000))
  }

  /**
   * Up to `want` permits (at least one), or 0 when none can come before `deadline`. `onRoundTrip` counts the
   * store's round trips. Throws FleetStoreError when the store fails: nothing is published unchecked.
   */
  async acquire(want: number, deadline: number, onRoundTrip: () => void): Promise<number> {
    const ask = Math.min(want, this.burst)
    for (;;) {
      if (this.clock.now() >= deadline) return 0
      const wait = this.notBefore - this.clock.now()
      if (wait > 0) {
        if (this.clock.now() + wait >= deadline) return 0
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, wait))
      }
      onRoundTrip()
      const [reply] = await this.connection.run(
        [{ script: 'fleetRate', keys: [RATE_BUCKET, RATE_LOG], args: [this.rate, this.burst, ask, this.who] }],
        deadline,
        'a permit of FLEET_RATE_LIMIT',
      )
      const [granted, waitMs] = reply as [number, number]
      this.notBefore = this.clock.now() + Number(waitMs)
      if (granted > 0) return Number(granted)
      if (this.notBefore >= deadline) return 0
    }
  }
}
