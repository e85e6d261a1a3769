// One socket write per read. MQTT.js handles a read's packets one per process.nextTick, and mqtt-packet
// uncorks on the next tick: each acknowledgement's publish was a writev of its own (one syscall a message, a
// third of a QoS 1 batch's time here). Corked from a read's first packet until the check phase, after every
// tick, what one read's acknowledgements let out goes in one write (docs/performance.md).
import type { Clock, Timer } from './clock.js'

export interface Corkable {
  cork?: () => void
  uncork?: () => void
}

export class ReadCork {
  private uncorkAt: Timer | undefined

  constructor(
    private readonly clock: Clock,
    private readonly stream: () => Corkable | undefined,
  ) {}

  /** A packet was read: cork the socket, unless it is corked already, until the event loop's next turn. */
  read(): void {
    const s = this.stream()
    if (this.uncorkAt !== undefined || !s?.cork) return
    s.cork()
    this.uncorkAt = this.clock.setImmediate(this.uncork)
  }

  /** Uncorks now (the pass ends): nothing is left for the next turn. */
  stop(): void {
    if (this.uncorkAt === undefined) return
    this.clock.clearImmediate(this.uncorkAt)
    this.uncork()
  }

  private readonly uncork = (): void => {
    this.uncorkAt = undefined
    this.stream()?.uncork?.()
  }
}
