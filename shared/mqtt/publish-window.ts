// One pass over a share of a batch on one live client: written in batch order, with a bounded number in
// flight (the broker's receive maximum: docs/reliability.md, "The window"), paced by the rate limit, every
// wait bounded by the acknowledgement timeout and the invocation deadline. Two halves: the scheduler decides
// what may be written next (scheduler.ts: the window, the pacing, the message groups); the acknowledgement
// ledger keeps what the broker owes and what each acknowledgement confirms (ack-ledger.ts, QoS 0 included).
// This file wires them to MQTT.js (QoS 0 to the socket itself): it writes, listens, pings, corks and watches
// the clock. A lost connection (closed, or any MQTT.js error) ends the pass at once, with what was written but
// not confirmed.
//
// The invariants of both halves. Position k stands for items[indices[k]]; its state only moves forward:
//
//   UNSENT ──write──▶ SENT ──QoS 0 written──▶ WRITTEN ──confirmed by a later answer──▶ SETTLED
//     │                ├──answered: acknowledged, refused or failed ───────────────────▶ SETTLED
//     │                └──overdue while the broker answers others──▶ ABANDONED ──late answer──▶ SETTLED
//     ├──failed unwritten: its group broke, or an earlier one of its topic failed (topic-order.ts) ▶ SETTLED
//     └──refused unwritten: what the broker does not take (refusalOf, failure-kind.ts) ──────────▶ SETTLED
//
//   by position  0 ──────────────────────────────── next ─────────────────────── n
//                [ written or settled, or waiting  ][ UNSENT, taken in this order ]
//                [ in its group's queue            ]
//   by write     0 ─────────── oldestWrite ──────────────────────── writes
//                [ all settled ][ any state but UNSENT; sentAt rising ]
//
// 1. (scheduler) Every position from `next` on is UNSENT. Below it, a position is UNSENT only while it waits
//    in its group's queue (ordered rules), in batch order; `ready` holds the head of an idle group's queue.
// 2. (ledger) inFlight = #SENT + #ABANDONED ≤ maxInFlight, and unwritten = the QoS 0 ones of them ≤
//    MAX_UNWRITTEN_QOS0: a message given up on keeps its place until the broker answers, since the broker
//    still counts it against its receive maximum.
// 3. (ledger) settled = #SETTLED + #ABANDONED; the pass ends when settled = n, on a loss, or on a timeout.
// 4. (ledger) byWrite[w] is the position written w-th, writeNumber[k] its inverse; sentAt rises with w;
//    every write below oldestWrite is settled, so the watchdog starts there.
// 5. (ledger) The QoS 0 confirmations hold exactly the WRITTEN positions, in write order. Every PUBLISH
//    numbered below `mark` was read by the broker: an answer to write w moves mark to w, the PINGRESP to a
//    PINGREQ written after w writes moves it to w. So nothing WRITTEN is numbered below mark.
//    Write numbers are the order on the wire: QoS 0 packets go to the socket directly, held for the refill
//    (qos0-writer.ts), and the holder is flushed before MQTT.js writes anything for the pass and when a refill ends.
// 6. (scheduler) With ordered rules, a group is in flight exactly while one of its positions is SENT; while
//    it is, its later positions wait in its queue; a broken group has no queue and its positions fail unwritten.
import type { IClientPublishOptions, IDisconnectPacket, Packet } from 'mqtt'
import { MIN_TIME_LEFT_MS, withExpiryInterval } from '../mapping/deadline.js'
import type { Publish } from '../mapping/publish.js'
import { AckLedger } from './ack-ledger.js'
import { AckNudge } from './ack-nudge.js'
import { type CodedError, refusalOf } from './failure-kind.js'
import { lossOf } from './loss.js'
import { EXPIRED, type PassResult, type PublishOutcome } from './outcome.js'
import { DEADLINE_REASON, type Ending } from './pass-state.js'
import { QoS0Writer, type WritableSocket } from './qos0-writer.js'
import { ReadCork } from './read-cork.js'
import { Scheduler } from './scheduler.js'
import { blockedBy, type FailedTopics, topicFailed } from './topic-order.js'
import type { WindowClient, WindowOptions } from './window-client.js'

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
  private readonly ledger: AckLedger
  private readonly scheduler: Scheduler
  /** Releases acknowledgements a Nagle-on broker holds behind the client's delayed ACK. */
  private readonly nudge: AckNudge
  private readonly cork: ReadCork
  /** QoS 0 packets written to the socket directly, a refill at a time (qos0-writer.ts); without a socket to write to, MQTT.js's publish(). */
  private readonly qos0: QoS0Writer | undefined
  private disconnect: IDisconnectPacket | undefined
  /** MQTT 5 property sets left out on a 3.1.1 connection. */
  private dropped = 0
  private readonly failedTopics: FailedTopics
  private finished = false
  private driving = false
  private again = false
  private watchdog: ReturnType<WindowOptions['clock']['setInterval']> | undefined
  private resolve: (r: PassResult) => void = () => {}

  constructor(
    private readonly client: WindowClient,
    private readonly items: readonly Publish[],
    private readonly indices: readonly number[],
    outcomes: PublishOutcome[],
    private readonly deadline: number,
    private readonly options: WindowOptions,
  ) {
    const { clock } = options
    this.failedTopics = options.failedTopics ?? new Map()
    this.ledger = new AckLedger(indices, outcomes, clock.now(), options)
    this.scheduler = new Scheduler(indices.length, options.maxInFlight, clock, options.bucket, options.groups, indices)
    this.nudge = new AckNudge(
      clock,
      () => client.sendPing(),
      () => this.ledger.owes,
    )
    this.cork = new ReadCork(clock, () => client.stream)
    const socket = client.stream
    this.qos0 =
      client.connected === true && socket?.write && socket.once
        ? new QoS0Writer(socket as WritableSocket, options.v5, (positions) => {
            for (const k of positions) this.answered(k, null, undefined)
          })
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
    this.ledger.sent(packet)
  }

  private readonly onPacketReceive = (packet: Packet): void => {
    this.cork.read()
    const cmd = packet.cmd
    this.nudge.heard(cmd === 'puback' || cmd === 'pubrec' || cmd === 'pubcomp')
    if (this.ledger.received(packet)) this.drive()
  }

  /**
   * The watchdog: the deadline; a broker that answered nothing within MQTT_PUBLISH_TIMEOUT_MS ends the pass; one
   * that answers others while a message waits past it fails that message alone (and its group), so a waiting
   * group never holds the others up.
   */
  private readonly check = (): void => {
    const ending = this.overdue()
    if (ending) this.finish(ending)
    else this.drive()
  }

  private overdue(): Ending | undefined {
    const { clock, publishTimeoutMs, safeUrl, maxInFlight } = this.options
    const now = clock.now()
    if (now >= this.deadline) return { timedOut: DEADLINE_REASON }
    const reason = `no acknowledgement from the MQTT broker at ${safeUrl} within MQTT_PUBLISH_TIMEOUT_MS=${publishTimeoutMs} ms`
    const overdue = this.ledger.overdue(now, publishTimeoutMs)
    if (overdue.kind === 'silent') return { timedOut: reason }
    if (overdue.kind !== 'expired') return undefined
    for (const k of overdue.positions) {
      this.ledger.abandon(k, reason)
      this.breakGroup(k, reason)
    }
    // Every place in the window is held by a message the broker may never answer: nothing can move.
    return this.ledger.abandoned >= maxInFlight ? { timedOut: reason } : undefined
  }

  /**
   * Writes what the scheduler allows, pings while written QoS 0 messages wait to be confirmed, and ends the
   * pass when all is settled. Callbacks may run inside publish(); they come back here, and the flag turns that
   * recursion into this loop.
   */
  private drive = (): void => {
    if (this.driving) {
      this.again = true
      return
    }
    this.driving = true
    // One socket write for what this turn writes: a QoS 0 refill and the PINGREQ behind it, say.
    const socket = this.client.stream
    socket?.cork?.()
    do {
      this.again = false
      this.pump()
      // What the refill encoded goes out before anything else is written (a PINGREQ confirms what precedes it).
      if (this.qos0?.flush()) this.nudge.wrote()
      if (this.finished) break
      if (this.ledger.done) this.finish()
      // QoS 0 messages written and not yet confirmed: a PINGREQ behind them confirms them.
      else if (this.ledger.pingDue(this.options.clock.now(), this.scheduler.allTaken, this.options.publishTimeoutMs / 4))
        this.client.sendPing()
    } while (this.again && !this.finished)
    socket?.uncork?.()
    this.driving = false
  }

  private pump(): void {
    while (!this.finished) {
      const next = this.scheduler.choose(this.ledger.inFlight, this.ledger.unwritten)
      if (next.kind === 'wait') return
      if (next.kind === 'fail') this.ledger.settle(next.position, { kind: 'failed', reason: next.reason })
      else if (!this.write(next.position)) return
    }
  }

  /**
   * About to write message k: the one place for a check before its PUBLISH (its deadline, its topic's order, what
   * the broker takes). Returns false when the rate limit makes it wait; it is checked again when woken.
   */
  private write(k: number): boolean {
    const { clock, v5, safeUrl } = this.options
    const item = this.items[this.indices[k]!]!
    // Its deadline, checked again now: it may have waited for the window, its group or a reconnect.
    const left = item.expiresAt === undefined ? undefined : item.expiresAt - clock.now()
    if (left !== undefined && left < MIN_TIME_LEFT_MS) return this.unwritten(k, EXPIRED)
    const blocked = this.grouped(k) ? undefined : blockedBy(this.failedTopics, item.topic)
    if (blocked !== undefined) return this.unwritten(k, { kind: 'failed', reason: blocked })
    const p = left !== undefined && v5 ? withExpiryInterval(item, left) : item
    const refusal = refusalOf(p, v5, this.options, safeUrl)
    if (refusal !== undefined) return this.unwritten(k, { kind: 'refused', reason: refusal })
    if (this.scheduler.paces(this.drive)) return false
    this.scheduler.taken(k, true)
    const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain }
    if (p.properties) {
      if (v5) opts.properties = p.properties
      else this.dropped++
    }
    this.ledger.written(k, p.qos, clock.now())
    if (p.qos === 0 && this.qos0) {
      this.qos0.add(k, p)
      return true
    }
    this.qos0?.flush()
    this.client.publish(p.topic, p.payload, opts, (err, packet) => this.answered(k, err, packet))
    return true
  }

  /** Message k settles without being written (no token of the rate limit taken). */
  private unwritten(k: number, outcome: PublishOutcome): true {
    this.scheduler.taken(k, false)
    this.ledger.settle(k, outcome)
    return true
  }

  private grouped(k: number): boolean {
    return this.options.groups?.of[this.indices[k]!] !== undefined
  }

  private answered(k: number, err: CodedError | null | undefined, packet: Packet | undefined): void {
    if (this.finished) return
    const { clock, safeUrl } = this.options
    const answer = this.ledger.answer(k, this.items[this.indices[k]!]!.qos, err, packet, safeUrl, clock.now())
    if (answer.kind === 'written') this.scheduler.released(k)
    else if (answer.kind === 'settled') {
      const outcome = answer.outcome
      if (outcome?.kind === 'failed') this.breakGroup(k, outcome.reason)
      else this.scheduler.released(k)
    }
    this.drive()
  }

  /** The message at `k` failed for a transient reason: the rest of its group, waiting, fails unwritten; without a group, its topic's. */
  private breakGroup(k: number, reason: string): void {
    if (!this.grouped(k)) topicFailed(this.failedTopics, this.items[this.indices[k]!]!.topic, reason)
    for (const w of this.scheduler.broke(k, reason)) this.ledger.settle(w.position, { kind: 'failed', reason: w.reason })
  }

  private finish(ending?: Ending): void {
    if (this.finished) return
    this.finished = true
    this.options.clock.clearInterval(this.watchdog)
    this.scheduler.stop()
    this.cork.stop()
    this.nudge.stop()
    this.listen('removeListener')
    this.resolve(this.ledger.result(ending, this.dropped))
  }
}
