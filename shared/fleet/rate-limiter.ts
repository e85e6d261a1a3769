// FLEET_RATE_LIMIT: messages per second for every instance together, from a token bucket in the fleet store
// (scripts.ts, RATE). The bucket holds a tenth of a second's worth, the burst: over any interval the fleet
// publishes at most the rate times the interval plus one burst. Each round trip reserves up to one burst,
// usable after the delay the store names, so an instance spends one round trip per grant and never asks in a
// loop. The per-connection MQTT_RATE_LIMIT still applies on top.
import { FleetStoreError } from '../errors.js'
import { type Clock, systemClock } from '../mqtt/clock.js'
import type { FleetConnection } from './connection.js'
import { RATE_BUCKET, RATE_LOG } from './keys.js'

/** The refill the burst is sized for: a tenth of a second. */
export const REFILL_MS = 100

export class FleetRateLimiter {
  /** Permits one grant holds at most, and the most the fleet may exceed the rate by. */
  readonly burst: number

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
   * Up to `want` permits, once they may be used (this waits for them), or 0 when they could not be before
   * `deadline`. Throws FleetStoreError when the store fails: nothing is published unchecked.
   */
  async acquire(want: number, deadline: number): Promise<number> {
    const maxDelay = Math.floor(deadline - this.clock.now())
    if (maxDelay <= 0) return 0
    let reply: unknown
    try {
      ;[reply] = await this.connection.run(
        [
          {
            script: 'fleetRate',
            keys: [RATE_BUCKET, RATE_LOG],
            args: [this.rate, this.burst, Math.min(want, this.burst), maxDelay, this.who],
          },
        ],
        deadline,
        'a permit of FLEET_RATE_LIMIT',
      )
    } catch (err) {
      // The deadline passed between the check above and the call: no permit before it, the store is fine.
      if (err instanceof FleetStoreError && err.notAsked) return 0
      throw err
    }
    const [granted, delay] = (reply as [number, number]).map(Number) as [number, number]
    if (granted > 0 && delay > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, delay))
    return granted
  }
}
