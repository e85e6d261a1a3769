// One pass over a share of a batch on one live client: written in batch order, with a bounded number in
// flight (the broker's receive maximum: docs/reliability.md, "The window"), paced by the rate limit, every
// wait bounded by the acknowledgement timeout and the invocation deadline. A PUBLISH over the broker's packet
// limit is refused before it is written. A QoS 0 message is delivered once the broker has read it: an
// acknowledgement of a later message, or the PINGRESP to a PINGREQ written after it, shows that. With
// ordered rules, each message group has one message in flight (group-order.ts). Acknowledgements a Nagle-on
// broker holds are released by a PINGREQ (ack-nudge.ts). A lost connection (closed, or any MQTT.js error)
// ends the pass at once, with what was written but not confirmed.
import type { IClientPublishOptions, IDisconnectPacket, Packet } from 'mqtt'
import type { Publish } from '../mapping/publish.js'
import { AckNudge } from './ack-nudge.js'
import { type CodedError, lossOf, oversizeReason, publishError } from './classify.js'
import type { Timer } from './clock.js'
import { QoS0Confirmations } from './confirmations.js'
import { GroupOrder } from './group-order.js'
import type { PassResult, PublishOutcome } from './outcome.js'
import { publishPacketBytes } from './packet-size.js'
import { DEADLINE_REASON, type Ending, overdue, passResult, SENT, SETTLED, WRITTEN } from './pass-state.js'
import { MAX_UNWRITTEN_QOS0, type WindowClient, type WindowOptions } from './window-client.js'

export type { WindowClient, WindowOptions } from './window-client.js'

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
  /** Each written position's PUBLISH number in this pass: the order the broker reads them in. */
  private readonly writeNumber: Uint32Array
  /** PUBLISH packets written in this pass (MQTT.js writes each inside its publish call). */
  private writes = 0
  /** The cursor: positions below it were written, settled, or (ordered rules) wait in `order`. */
  private next = 0
  private inFlight = 0
  /** QoS 0 messages handed to MQTT.js whose write callback has not run. */
  private unwritten = 0
  private settledCount = 0
  /** Positions below this one need not be looked at by the watchdog. */
  private oldest = 0
  private readonly confirmations: QoS0Confirmations
  /** Releases acknowledgements a Nagle-on broker holds behind the client's delayed ACK. */
  private readonly nudge: AckNudge
  /** With ordered rules: one message in flight per group, and the short-circuit after a failure. */
  private readonly order: GroupOrder | undefined
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
  /** Set from the first packet of a read until the event loop's next turn: the socket is corked meanwhile. */
  private uncorkAt: Timer | undefined
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
    this.writeNumber = new Uint32Array(this.count)
    this.confirmations = new QoS0Confirmations(options.pingsInFlight ?? 0, (k) => this.settle(k))
    this.pingedAt = options.clock.now()
    this.nudge = new AckNudge(
      options.clock,
      () => client.sendPing(),
      () => this.inFlight > 0 || this.confirmations.waiting,
    )
    const groups = options.groups
    this.order = groups?.of.some((g) => g !== undefined)
      ? new GroupOrder(
          this.count,
          (k) => groups.of[indices[k]!],
          (k) => items[indices[k]!]!.topic,
          groups.broken,
        )
      : undefined
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
    this.nudge.wrote()
    if (packet.cmd === 'pingreq') this.confirmations.pinged(this.writes)
    if (packet.cmd === 'publish' && packet.qos === 2 && packet.messageId !== undefined) this.qos2Ids.add(packet.messageId)
  }

  private readonly onPacketReceive = (packet: Packet): void => {
    // MQTT.js handles a read's packets one per process.nextTick, and mqtt-packet uncorks on the next tick:
    // each acknowledgement's publish was a writev of its own (one syscall a message, a third of a QoS 1
    // batch's time here). Corked until the check phase, after every tick, what one read's acknowledgements
    // let out goes in one write (docs/performance.md).
    if (this.uncorkAt === undefined && this.client.stream?.cork) {
      this.client.stream.cork()
      this.uncorkAt = this.options.clock.setImmediate(this.uncork)
    }
    const cmd = packet.cmd
    this.nudge.heard(cmd === 'puback' || cmd === 'pubrec' || cmd === 'pubcomp')
    if (cmd === 'puback' || cmd === 'pubrec') {
      if (packet.messageId !== undefined && this.qos2Ids.delete(packet.messageId) && cmd === 'puback') this.downgraded++
    } else if (cmd === 'pingresp') {
      this.confirmations.pingAnswered()
      this.drive()
    }
  }

  private readonly uncork = (): void => {
    this.uncorkAt = undefined
    this.client.stream?.uncork?.()
  }

  private readonly check = (): void => {
    const now = this.options.clock.now()
    if (now >= this.deadline) {
      this.finish({ timedOut: DEADLINE_REASON })
      return
    }
    while (this.oldest < this.next && this.state[this.oldest] === SETTLED) this.oldest++
    const { publishTimeoutMs, safeUrl } = this.options
    if (overdue(this.state, this.sentAt, this.oldest, this.next, now - publishTimeoutMs, !this.order)) {
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
    while (!this.finished && !this.paced && this.inFlight < maxInFlight && this.unwritten < MAX_UNWRITTEN_QOS0) {
      const k = this.candidate()
      if (k === undefined) break
      const p = this.items[this.indices[k]!]!
      const bytes = publishPacketBytes(p, v5)
      if (bytes > packetLimit.bytes) {
        // Never written: the broker would drop the connection (Mosquitto) or the message, on every retry.
        this.take(k, false)
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
      this.take(k, true)
      const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain }
      if (p.properties) {
        if (v5) opts.properties = p.properties
        else this.dropped++
      }
      this.inFlight++
      if (p.qos === 0) this.unwritten++
      this.state[k] = SENT
      this.sentAt[k] = clock.now()
      this.writeNumber[k] = this.writes++
      this.client.publish(p.topic, p.payload, opts, (err) => this.answered(k, err))
    }
  }

  /**
   * The next position to write, not yet taken: a waiting message of an ordered rule now free to go, else the
   * cursor's, past the messages that must wait for their group or topic and those whose group broke.
   */
  private candidate(): number | undefined {
    const order = this.order
    if (!order) return this.next < this.count ? this.next : undefined
    const ready = order.peekReady()
    if (ready !== undefined) return ready
    while (this.next < this.count) {
      const k = this.next
      const broken = order.brokenReason(k)
      if (broken !== undefined) {
        this.next++
        this.settle(k, { kind: 'failed', reason: broken })
      } else if (order.holds(k)) this.next++
      else return k
    }
    return undefined
  }

  /** Takes the candidate: the cursor moves past it, or it leaves its group's queue; `written` holds its group. */
  private take(k: number, written: boolean): void {
    if (k === this.next) this.next++
    this.order?.taken(k, written)
  }

  private answered(k: number, err: CodedError | null | undefined): void {
    if (this.finished || this.state[k] !== SENT) return
    this.inFlight--
    const qos = this.items[this.indices[k]!]!.qos
    if (qos === 0) this.unwritten--
    if (qos === 0 && !err) {
      this.state[k] = WRITTEN
      this.confirmations.wrote(k, this.writeNumber[k]!)
      // Written in order on the one connection: the broker reads it before the group's next message.
      this.order?.released(k)
    } else {
      // An acknowledgement (with or without an error code) shows the broker read everything written before it.
      if (!err || typeof err.code === 'number') this.confirmations.acknowledged(this.writeNumber[k]!)
      const outcome = err ? publishError(err, this.options.safeUrl) : undefined
      this.settle(k, outcome)
      if (outcome?.kind === 'failed' && this.order) {
        for (const w of this.order.fail(k, outcome.reason)) this.settle(w, { kind: 'failed', reason: this.order.brokenReason(w)! })
      } else this.order?.released(k)
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
    if (this.uncorkAt !== undefined) {
      clock.clearImmediate(this.uncorkAt)
      this.uncork()
    }
    this.nudge.stop()
    this.listen('removeListener')
    const counts = { settled: this.settledCount, dropped: this.dropped, downgraded: this.downgraded }
    this.resolve(passResult(this.state, this.indices, this.outcomes, counts, ending))
  }
}
