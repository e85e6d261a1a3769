// The acknowledgement ledger of one pass of the publish window: what the broker owes, and what each
// acknowledgement confirms, QoS 0 included (confirmations.ts). It holds each position's state and outcome, the
// in-flight and unwritten counts the scheduler bounds, the write order the timeouts and the QoS 0
// confirmations follow, and the QoS 2 downgrades. Its invariants, with the scheduler's, are written once, in
// publish-window.ts.
import type { Packet } from 'mqtt'
import { QoS0Confirmations } from './confirmations.js'
import { type CodedError, publishError } from './failure-kind.js'
import type { PublishOutcome } from './outcome.js'
import { ABANDONED, type Ending, type PassCounts, passResult, SENT, SETTLED, WRITTEN } from './pass-state.js'
import { judgedNow } from './wide-refusals.js'
import type { WindowOptions } from './window-client.js'

/** What an answer from MQTT.js did: nothing (not in flight), a QoS 0 write, or a settled message. */
export type Answer = { kind: 'ignored' } | { kind: 'written' } | { kind: 'settled'; outcome: PublishOutcome | undefined }

/** What the watchdog finds: nothing overdue; a broker that answered nothing within the timeout; or the overdue messages of one that answers others. */
export type Overdue = { kind: 'none' } | { kind: 'silent' } | { kind: 'expired'; positions: number[] }

const NONE: Overdue = { kind: 'none' }
const SILENT: Overdue = { kind: 'silent' }
const IGNORED: Answer = { kind: 'ignored' }
const WRITTEN_ANSWER: Answer = { kind: 'written' }

export class AckLedger {
  readonly state: Uint8Array
  private readonly sentAt: Float64Array
  /** Each written position's PUBLISH number in this pass, and the position written w-th: the order the broker reads them in. */
  private readonly writeNumber: Uint32Array
  private readonly byWrite: Int32Array
  private writes = 0
  /** Every PUBLISH numbered below this one is settled (the watchdog starts here). */
  private oldestWrite = 0
  private counts = { inFlight: 0, unwritten: 0, settled: 0, acknowledged: 0, downgraded: 0, abandoned: 0 }
  /** When the broker last answered a PUBLISH (or the pass began): a broker silent for the timeout ends the pass. */
  private answeredAt: number
  /** When this pass began, or last wrote a PINGREQ to confirm QoS 0 messages. */
  private pingedAt: number
  private readonly confirmations: QoS0Confirmations
  /** Packet identifiers of the QoS 2 publishes written, to tell a PUBACK answer (a QoS 1 broker) from PUBREC. */
  private readonly qos2Ids = new Set<number>()

  constructor(
    private readonly indices: readonly number[],
    private readonly outcomes: PublishOutcome[],
    now: number,
    private readonly options: Pick<WindowOptions, 'pingsInFlight' | 'groups' | 'acceptance'> = {},
  ) {
    const count = indices.length
    this.state = new Uint8Array(count)
    this.sentAt = new Float64Array(count)
    this.writeNumber = new Uint32Array(count)
    this.byWrite = new Int32Array(count)
    this.answeredAt = now
    this.pingedAt = now
    this.confirmations = new QoS0Confirmations(options.pingsInFlight ?? 0, (k) => this.settle(k))
  }

  get inFlight(): number {
    return this.counts.inFlight
  }

  get unwritten(): number {
    return this.counts.unwritten
  }

  /** Positions given up on at their timeout, still owed by the broker: they keep their place in the window. */
  get abandoned(): number {
    return this.counts.abandoned
  }

  get done(): boolean {
    return this.counts.settled === this.state.length
  }

  /** The broker still owes an acknowledgement, or the PINGRESP that confirms a QoS 0 message. */
  get owes(): boolean {
    return this.counts.inFlight > 0 || this.confirmations.waiting
  }

  /** Position `k` (QoS `qos`) is handed to MQTT.js now, as this pass's next PUBLISH. */
  written(k: number, qos: number, now: number): void {
    this.state[k] = SENT
    this.sentAt[k] = now
    this.writeNumber[k] = this.writes
    this.byWrite[this.writes++] = k
    this.counts.inFlight++
    if (qos === 0) this.counts.unwritten++
  }

  /** MQTT.js's callback for position `k`: PUBACK or PUBCOMP (with `packet`, the broker's reason string), or a QoS 0 write. */
  answer(k: number, qos: number, err: CodedError | null | undefined, packet: Packet | undefined, url: string, now: number): Answer {
    const s = this.state[k]
    if (s !== SENT && s !== ABANDONED) return IGNORED
    this.counts.inFlight--
    if (qos === 0) this.counts.unwritten--
    const acknowledgement = qos > 0 && (!err || typeof err.code === 'number')
    if (acknowledgement) {
      // An acknowledgement (with or without an error code) shows the broker read everything written before it.
      this.counts.acknowledged++
      this.answeredAt = now
      this.confirmations.acknowledged(this.writeNumber[k]!)
    }
    if (s === ABANDONED) {
      // Its outcome was given at its timeout; the window has its place back.
      this.state[k] = SETTLED
      this.counts.abandoned--
      return IGNORED
    }
    if (qos === 0 && !err) {
      this.state[k] = WRITTEN
      this.confirmations.wrote(k, this.writeNumber[k]!)
      return WRITTEN_ANSWER
    }
    const reasonString = (packet as { properties?: { reasonString?: string } } | undefined)?.properties?.reasonString
    const refusal = err ? publishError(err, url, reasonString) : undefined
    if (!err) this.options.acceptance?.accepted()
    // A grouped message's refusal releases or stops its group now, so it is judged now (wide-refusals.ts).
    const { groups, acceptance } = this.options
    const outcome = refusal && acceptance && groups?.of[this.indices[k]!] !== undefined ? judgedNow(refusal, acceptance) : refusal
    this.settle(k, outcome)
    return { kind: 'settled', outcome }
  }

  /** Position `k` ends unwritten or without an answer: refused (over the packet limit) or failed (its group broken). */
  settle(k: number, outcome?: PublishOutcome): void {
    const s = this.state[k]
    if (s === SETTLED || s === ABANDONED) return
    this.state[k] = SETTLED
    this.counts.settled++
    if (outcome) this.outcomes[this.indices[k]!] = outcome
  }

  /** Gives up on position `k` at its timeout: it fails; if still in flight, it keeps its place until answered. */
  abandon(k: number, reason: string): void {
    const s = this.state[k]
    if (s !== SENT) {
      this.settle(k, { kind: 'failed', reason })
      return
    }
    this.state[k] = ABANDONED
    this.counts.settled++
    this.counts.abandoned++
    this.outcomes[this.indices[k]!] = { kind: 'failed', reason }
  }

  /** Messages written before `now - timeoutMs` and unanswered, in write order (written in order, `sentAt` rises with the write number). */
  overdue(now: number, timeoutMs: number): Overdue {
    const before = now - timeoutMs
    while (this.oldestWrite < this.writes && this.state[this.byWrite[this.oldestWrite]!]! >= SETTLED) this.oldestWrite++
    if (this.oldestWrite === this.writes || this.sentAt[this.byWrite[this.oldestWrite]!]! >= before) return NONE
    if (this.answeredAt < before) return SILENT
    const positions: number[] = []
    for (let w = this.oldestWrite; w < this.writes; w++) {
      const k = this.byWrite[w]!
      if (this.sentAt[k]! >= before) break
      if (this.state[k]! < SETTLED) positions.push(k)
    }
    return { kind: 'expired', positions }
  }

  /** A packet the client wrote: a PINGREQ confirms what was written before it; a QoS 2 PUBLISH is watched for a PUBACK answer. */
  sent(packet: Packet): void {
    if (packet.cmd === 'pingreq') this.confirmations.pinged(this.writes)
    else if (packet.cmd === 'publish' && packet.qos === 2 && packet.messageId !== undefined) this.qos2Ids.add(packet.messageId)
  }

  /** A packet the client read: a QoS 2 PUBLISH answered with PUBACK is downgraded; a PINGRESP confirms. Returns true on a PINGRESP. */
  received(packet: Packet): boolean {
    const cmd = packet.cmd
    if (cmd === 'puback' || cmd === 'pubrec') {
      if (packet.messageId !== undefined && this.qos2Ids.delete(packet.messageId) && cmd === 'puback') this.counts.downgraded++
    } else if (cmd === 'pingresp') {
      this.confirmations.pingAnswered()
      return true
    }
    return false
  }

  /**
   * Whether to write a PINGREQ now to confirm the QoS 0 messages written: one in flight at a time, once nothing
   * is left to write (`allTaken`), or every `everyMs` in a long (paced) stream. Notes the time when it says yes.
   */
  pingDue(now: number, allTaken: boolean, everyMs: number): boolean {
    if (!this.confirmations.waiting || this.confirmations.pinging) return false
    if (!allTaken && now - this.pingedAt < everyMs) return false
    this.pingedAt = now
    return true
  }

  result(ending: Ending | undefined, dropped: number): ReturnType<typeof passResult> {
    const { settled, acknowledged, downgraded, abandoned } = this.counts
    const counts: PassCounts = { settled, acknowledged, dropped, downgraded, abandoned }
    return passResult(this.state, this.indices, this.outcomes, counts, ending)
  }
}
