// One pass over a share of a batch on one live client: written in batch order, with a bounded number in
// flight (MQTT.js stalls on a large mixed-QoS burst: docs/architecture.md, "Known traps"), paced by the rate
// limit, every wait bounded by the acknowledgement timeout and the invocation deadline.
import type { IClientPublishOptions } from 'mqtt'
import type { Publish } from '../mapping/publish.js'
import { type CodedError, publishError } from './classify.js'
import type { Clock, Timer } from './clock.js'
import type { PublishOutcome } from './outcome.js'
import type { TokenBucket } from './token-bucket.js'

/** At most this many publishes in flight per connection; lowered to the broker's receive maximum. */
export const MAX_IN_FLIGHT = 20

/** The little of MQTT.js's client a pass needs. */
export interface WindowClient {
  /** Calls back on PUBACK (QoS 1), PUBCOMP (QoS 2) or once written (QoS 0), possibly synchronously. */
  publish(topic: string, payload: Buffer, opts: IClientPublishOptions, cb: (err?: CodedError) => void): unknown
  on(event: 'close', listener: () => void): unknown
  removeListener(event: 'close', listener: () => void): unknown
}

export interface WindowOptions {
  clock: Clock
  /** Most publishes unacknowledged at once. */
  maxInFlight: number
  /** MQTT 5 properties are sent only on a version-5 connection; on 3.1.1 they are dropped and counted. */
  v5: boolean
  /** MQTT_PUBLISH_TIMEOUT_MS: the longest wait for one acknowledgement. */
  publishTimeoutMs: number
  /** MQTT_RATE_LIMIT, shared by every pass on the connection. */
  bucket?: TokenBucket | undefined
  safeUrl: string
}

export interface PassResult {
  /** Indices whose fate is unknown because the connection closed: the caller may resend them. */
  lost: number[]
  /** MQTT 5 property sets left out. */
  dropped: number
  /** The client closed, or timed out, or the deadline came: it must not be used again. */
  broken: boolean
}

type Failure = { lost: true } | { reason: string }

const DEADLINE_REASON = 'the invocation deadline (Function Compute timeout less a safety margin) was reached before the broker acknowledged'

/**
 * Sends `items[i]` for each i of `indices`, in that order, on `client`. Writes an outcome for each one it
 * settles into `outcomes` (which arrives filled with "delivered"), and resolves when all are settled or the pass ends.
 */
export function transmit(
  client: WindowClient,
  items: readonly Publish[],
  indices: readonly number[],
  outcomes: PublishOutcome[],
  deadline: number,
  options: WindowOptions,
): Promise<PassResult> {
  return new PublishWindow(client, items, indices, outcomes, deadline, options).run()
}

export class PublishWindow {
  private readonly count: number
  private readonly sentAt: Float64Array
  private readonly settled: Uint8Array
  private next = 0
  private inFlight = 0
  private done = 0
  /** The oldest position that may still be unacknowledged: the only one the watchdog needs to look at. */
  private oldest = 0
  private dropped = 0
  private finished = false
  private pumping = false
  /** Set while the rate limit makes the next publish wait. */
  private paced: Timer | undefined
  private watchdog: Timer | undefined
  private resolve: (r: PassResult) => void = () => {}

  constructor(
    private readonly client: WindowClient,
    private readonly items: readonly Publish[],
    private readonly indices: readonly number[],
    private readonly outcomes: PublishOutcome[],
    private readonly deadline: number,
    private readonly options: WindowOptions,
  ) {
    this.count = indices.length
    this.sentAt = new Float64Array(this.count)
    this.settled = new Uint8Array(this.count)
  }

  run(): Promise<PassResult> {
    return new Promise((resolve) => {
      this.resolve = resolve
      this.client.on('close', this.onClose)
      // One timer per pass, not per message: checks the oldest unacknowledged publish and the deadline.
      const { publishTimeoutMs } = this.options
      this.watchdog = this.options.clock.setInterval(this.check, Math.max(10, Math.min(250, publishTimeoutMs / 4)))
      if (this.count === 0) this.finish()
      else this.pump()
    })
  }

  private readonly onClose = (): void => this.finish({ lost: true })

  private readonly check = (): void => {
    const now = this.options.clock.now()
    if (now >= this.deadline) {
      this.finish({ reason: DEADLINE_REASON })
      return
    }
    while (this.oldest < this.next && this.settled[this.oldest]) this.oldest++
    const { publishTimeoutMs, safeUrl } = this.options
    if (this.oldest < this.next && now - this.sentAt[this.oldest]! > publishTimeoutMs) {
      this.finish({ reason: `no acknowledgement from the MQTT broker at ${safeUrl} within MQTT_PUBLISH_TIMEOUT_MS=${publishTimeoutMs} ms` })
    }
  }

  private readonly pump = (): void => {
    // QoS 0 callbacks can run synchronously inside publish(); the flag turns that recursion into this loop.
    if (this.pumping || this.paced) return
    this.pumping = true
    const { clock, bucket, maxInFlight, v5 } = this.options
    while (!this.finished && this.inFlight < maxInFlight && this.next < this.count) {
      const wait = bucket?.take(clock.now()) ?? 0
      if (wait > 0) {
        this.paced = clock.setTimeout(() => {
          this.paced = undefined
          this.pump()
        }, wait)
        break
      }
      const k = this.next++
      const p = this.items[this.indices[k]!]!
      const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain }
      if (p.properties) {
        if (v5) opts.properties = p.properties
        else this.dropped++
      }
      this.inFlight++
      this.sentAt[k] = clock.now()
      this.client.publish(p.topic, p.payload, opts, (err) => this.acknowledged(k, err))
    }
    this.pumping = false
  }

  private acknowledged(k: number, err: CodedError | undefined): void {
    if (this.finished || this.settled[k]) return
    this.settled[k] = 1
    this.inFlight--
    this.done++
    if (err) this.outcomes[this.indices[k]!] = publishError(err, this.options.safeUrl)
    if (this.done === this.count) this.finish()
    else this.pump()
  }

  private finish(failure?: Failure): void {
    if (this.finished) return
    this.finished = true
    const { clock } = this.options
    clock.clearInterval(this.watchdog)
    clock.clearTimeout(this.paced)
    this.client.removeListener('close', this.onClose)
    const lost: number[] = []
    if (failure) {
      for (let k = 0; k < this.count; k++) {
        if (this.settled[k]) continue
        if ('lost' in failure) lost.push(this.indices[k]!)
        else this.outcomes[this.indices[k]!] = { kind: 'failed', reason: failure.reason }
      }
    }
    this.resolve({ lost, dropped: this.dropped, broken: failure !== undefined })
  }
}
