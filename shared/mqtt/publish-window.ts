// One pass over a share of a batch on one live client: written in batch order, with a bounded number in
// flight (MQTT.js stalls on a large mixed-QoS burst: docs/architecture.md, "Known traps"), paced by the rate
// limit, every wait bounded by the acknowledgement timeout and the invocation deadline. A PUBLISH over the
// broker's packet limit is refused before it is written. A QoS 0 message is delivered once the broker has read
// it: an acknowledgement of a later message, or the PINGRESP to a PINGREQ written after it, shows that. A lost
// connection (closed, or any MQTT.js error) ends the pass at once, with what was written but not confirmed.
import type { IClientPublishOptions, IDisconnectPacket, Packet } from 'mqtt'
import type { Publish } from '../mapping/publish.js'
import { type CodedError, type Loss, lossOf, oversizeReason, type PacketLimit, publishError } from './classify.js'
import type { Clock, Timer } from './clock.js'
import { QoS0Confirmations } from './confirmations.js'
import type { PassResult, PublishOutcome } from './outcome.js'
import { publishPacketBytes } from './packet-size.js'
import type { TokenBucket } from './token-bucket.js'

/** MQTT_MAX_IN_FLIGHT's default; on MQTT 5 the window is lowered to the broker's receive maximum. */
export const MAX_IN_FLIGHT = 20

interface WindowEvents {
  close: () => void
  error: (err: CodedError) => void
  disconnect: (packet: IDisconnectPacket) => void
  packetsend: (packet: Packet) => void
  packetreceive: (packet: Packet) => void
}

/** The little of MQTT.js's client a pass needs. */
export interface WindowClient {
  /** Calls back on PUBACK (QoS 1), PUBCOMP (QoS 2) or once written (QoS 0), possibly synchronously. */
  publish(topic: string, payload: Buffer, opts: IClientPublishOptions, cb: (err?: CodedError | null) => void): unknown
  sendPing(): void
  on<E extends keyof WindowEvents>(event: E, listener: WindowEvents[E]): unknown
  removeListener<E extends keyof WindowEvents>(event: E, listener: WindowEvents[E]): unknown
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
  /** The largest PUBLISH packet the broker takes. */
  packetLimit: PacketLimit
  /** PINGREQs written before the pass and not yet answered: their PINGRESPs confirm nothing of it. */
  pingsInFlight?: number
  safeUrl: string
}

type Ending = { loss: Loss } | { timedOut: string }

const DEADLINE_REASON = 'the invocation deadline (Function Compute timeout less a safety margin) was reached before the broker acknowledged'

/** What became of each position of the pass. */
const UNSENT = 0
const SENT = 1
/** A QoS 0 message written to the socket, not yet known to be read by the broker. */
const WRITTEN = 2
const SETTLED = 3

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
  private readonly state: Uint8Array
  private next = 0
  private inFlight = 0
  private settledCount = 0
  /** Positions below this one need not be looked at by the watchdog. */
  private oldest = 0
  private readonly confirmations: QoS0Confirmations
  /** Packet identifiers of the QoS 2 publishes written, to tell a PUBACK answer (a QoS 1 broker) from PUBREC. */
  private readonly qos2Ids = new Set<number>()
  private dropped = 0
  private downgraded = 0
  private disconnect: IDisconnectPacket | undefined
  private finished = false
  private driving = false
  private again = false
  /** When this pass began, or last wrote a PINGREQ to confirm QoS 0 messages. */
  private pingedAt: number
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
    this.state = new Uint8Array(this.count)
    this.confirmations = new QoS0Confirmations(options.pingsInFlight ?? 0, (k) => this.settle(k))
    this.pingedAt = options.clock.now()
  }

  run(): Promise<PassResult> {
    return new Promise((resolve) => {
      this.resolve = resolve
      this.listen('on')
      // One timer per pass, not per message: checks the oldest unconfirmed publish and the deadline.
      const { publishTimeoutMs } = this.options
      this.watchdog = this.options.clock.setInterval(this.check, Math.max(10, Math.min(250, publishTimeoutMs / 4)))
      this.drive()
    })
  }

  private listen(method: 'on' | 'removeListener'): void {
    const c = this.client
    c[method]('close', this.onClose)
    c[method]('error', this.onError)
    c[method]('disconnect', this.onDisconnect)
    c[method]('packetsend', this.onPacketSend)
    c[method]('packetreceive', this.onPacketReceive)
  }

  private readonly onClose = (): void => {
    const d = this.disconnect
    const reasonString = d?.properties?.reasonString
    const disconnect = d ? { code: d.reasonCode ?? 0, ...(reasonString ? { reasonString } : {}) } : undefined
    this.finish({ loss: { kind: 'closed', ...(disconnect ? { disconnect } : {}) } })
  }

  // Any MQTT.js error during a pass ends it at once: after a parse error (an unknown reason code, say) the
  // client reads no further acknowledgements, and waiting for them would only run into the timeout.
  private readonly onError = (err: CodedError): void => this.finish({ loss: lossOf(err) })

  private readonly onDisconnect = (packet: IDisconnectPacket): void => {
    this.disconnect = packet
  }

  private readonly onPacketSend = (packet: Packet): void => {
    this.confirmations.sent(packet.cmd)
    if (packet.cmd === 'publish' && packet.qos === 2 && packet.messageId !== undefined) this.qos2Ids.add(packet.messageId)
  }

  private readonly onPacketReceive = (packet: Packet): void => {
    if (packet.cmd === 'puback' || packet.cmd === 'pubrec') {
      if (packet.messageId !== undefined && this.qos2Ids.delete(packet.messageId) && packet.cmd === 'puback') this.downgraded++
    } else if (packet.cmd === 'pingresp') {
      this.confirmations.pingAnswered()
      this.drive()
    }
  }

  private readonly check = (): void => {
    const now = this.options.clock.now()
    if (now >= this.deadline) {
      this.finish({ timedOut: DEADLINE_REASON })
      return
    }
    while (this.oldest < this.next && this.state[this.oldest] === SETTLED) this.oldest++
    const { publishTimeoutMs, safeUrl } = this.options
    if (this.oldest < this.next && now - this.sentAt[this.oldest]! > publishTimeoutMs) {
      this.finish({
        timedOut: `no acknowledgement from the MQTT broker at ${safeUrl} within MQTT_PUBLISH_TIMEOUT_MS=${publishTimeoutMs} ms`,
      })
    } else this.drive()
  }

  /**
   * Writes what the window and the rate limit allow, pings while written QoS 0 messages wait to be confirmed, and
   * ends the pass when all is settled. Callbacks may run inside publish(); they come back here, and the flag
   * turns that recursion into this loop.
   */
  private drive(): void {
    if (this.driving) {
      this.again = true
      return
    }
    this.driving = true
    do {
      this.again = false
      this.pump()
      if (this.finished) break
      if (this.settledCount === this.count) this.finish()
      // QoS 0 messages written and not yet confirmed: a PINGREQ behind them confirms them. One in flight at a
      // time, sent once nothing is left to write, or every quarter of the timeout in a long (paced) stream.
      else if (this.confirmations.waiting && !this.confirmations.pinging && this.pingDue()) {
        this.pingedAt = this.options.clock.now()
        this.client.sendPing()
      }
    } while (this.again && !this.finished)
    this.driving = false
  }

  private pingDue(): boolean {
    return this.next === this.count || this.options.clock.now() - this.pingedAt >= this.options.publishTimeoutMs / 4
  }

  private pump(): void {
    const { clock, bucket, maxInFlight, v5, packetLimit, safeUrl } = this.options
    while (!this.finished && !this.paced && this.inFlight < maxInFlight && this.next < this.count) {
      const k = this.next
      const p = this.items[this.indices[k]!]!
      const bytes = publishPacketBytes(p, v5)
      if (bytes > packetLimit.bytes) {
        // Never written: the broker would drop the connection (Mosquitto) or the message, on every retry.
        this.next++
        this.sentAt[k] = clock.now()
        this.settle(k, { kind: 'refused', reason: oversizeReason(bytes, packetLimit, safeUrl) })
        continue
      }
      const wait = bucket?.take(clock.now()) ?? 0
      if (wait > 0) {
        this.paced = clock.setTimeout(() => {
          this.paced = undefined
          this.drive()
        }, wait)
        break
      }
      this.next++
      const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain }
      if (p.properties) {
        if (v5) opts.properties = p.properties
        else this.dropped++
      }
      this.inFlight++
      this.state[k] = SENT
      this.sentAt[k] = clock.now()
      this.client.publish(p.topic, p.payload, opts, (err) => this.answered(k, err))
    }
  }

  private answered(k: number, err: CodedError | null | undefined): void {
    if (this.finished || this.state[k] !== SENT) return
    this.inFlight--
    const qos = this.items[this.indices[k]!]!.qos
    if (qos === 0 && !err) {
      this.state[k] = WRITTEN
      this.confirmations.wrote(k)
    } else {
      // An acknowledgement (with or without an error code) shows the broker read everything written before it.
      if (!err || typeof err.code === 'number') this.confirmations.acknowledged(k)
      this.settle(k, err ? publishError(err, this.options.safeUrl) : undefined)
    }
    this.drive()
  }

  private settle(k: number, outcome?: PublishOutcome): void {
    this.state[k] = SETTLED
    this.settledCount++
    if (outcome) this.outcomes[this.indices[k]!] = outcome
  }

  private finish(ending?: Ending): void {
    if (this.finished) return
    this.finished = true
    const { clock } = this.options
    clock.clearInterval(this.watchdog)
    clock.clearTimeout(this.paced)
    this.listen('removeListener')
    const unconfirmed: number[] = []
    const unsent: number[] = []
    if (ending) {
      for (let k = 0; k < this.count; k++) {
        const s = this.state[k]
        if (s === SETTLED) continue
        if ('timedOut' in ending) this.outcomes[this.indices[k]!] = { kind: 'failed', reason: ending.timedOut }
        else (s === UNSENT ? unsent : unconfirmed).push(this.indices[k]!)
      }
    }
    this.resolve({
      unconfirmed,
      unsent,
      ...(ending && 'loss' in ending ? { loss: ending.loss } : {}),
      ...(ending && 'timedOut' in ending ? { timedOut: ending.timedOut } : {}),
      settled: this.settledCount,
      dropped: this.dropped,
      downgraded: this.downgraded,
      broken: ending !== undefined,
    })
  }
}
