// A connection lost during a pass of the publish window: how it was lost, what that says about the messages
// written (docs/reliability.md, "Poison isolation"), and the reasons a verdict gives, in words.
import type { CodedError } from './failure-kind.js'
import { DISCONNECT_ABOUT_THE_PACKET, DISCONNECT_BROKERS_OWN, reasonName } from './reason-codes.js'

/** How a connection was lost during a pass: closed (with the broker's MQTT 5 DISCONNECT, if any), or an MQTT.js error. */
export type Loss =
  | { kind: 'closed'; disconnect?: { code: number; reasonString?: string }; socketError?: string }
  | { kind: 'error'; message: string }

/**
 * What a loss says about the message alone in flight when it happened:
 * - `brokers-own`: a DISCONNECT for the broker's own reasons (session taken over, shutting down, busy…): nothing written is to blame;
 * - `names-the-packet`: a DISCONNECT about the packet read (too large, not authorized…): the message alone in flight is at fault;
 * - `silent`: the broker stopped answering (MQTT.js's keepalive timeout): nothing written is to blame;
 * - `unexplained`: a close without a reason, a reset, an unreadable packet: only the evidence of its neighbours can blame a message.
 */
export type LossMeaning = 'brokers-own' | 'names-the-packet' | 'silent' | 'unexplained'

export function meaningOf(loss: Loss): LossMeaning {
  if (loss.kind === 'error') return loss.message === 'Keepalive timeout' ? 'silent' : 'unexplained'
  const code = loss.disconnect?.code
  if (code === undefined) return 'unexplained'
  if (DISCONNECT_BROKERS_OWN.has(code)) return 'brokers-own'
  return DISCONNECT_ABOUT_THE_PACKET.has(code) ? 'names-the-packet' : 'unexplained'
}

/** An MQTT.js 'error' event as a Loss: a socket error (ECONNRESET, EPIPE) is the broker closing the connection. */
export function lossOf(err: CodedError): Loss {
  if (typeof err.code === 'string') return { kind: 'closed', socketError: err.code }
  return { kind: 'error', message: err.message }
}

/** The loss in words, for reasons and logs; the broker's reason string kept. */
export function describeLoss(loss: Loss): string {
  if (loss.kind === 'error') return `MQTT.js: ${loss.message}${unreadableCodeHint(loss.message)}`
  const d = loss.disconnect
  if (d) return `DISCONNECT reason code ${reasonName(d.code)}${d.reasonString ? `: ${JSON.stringify(d.reasonString)}` : ''}`
  return loss.socketError ? `connection reset (${loss.socketError})` : 'closed without a DISCONNECT reason'
}

/** MQTT.js cannot parse a PUBACK/PUBREC reason code it does not know, such as Mosquitto's 0x95 for message_size_limit. */
function unreadableCodeHint(message: string): string {
  return /^Invalid (puback|pubrec|pubcomp) reason code$/.test(message)
    ? ' (the broker answered with a reason code MQTT.js cannot read, such as 0x95 "Packet too large" for a message over its message_size_limit)'
    : ''
}

/** The evidence that singled a message out (isolation.ts). */
export type PoisonEvidence =
  /** A DISCONNECT about the packet while this message alone was unacknowledged. */
  | { kind: 'named'; loss: Loss }
  /** Lost each time it was sent alone, while a message written before it, after it, or both, was acknowledged. */
  | { kind: 'neighbours'; losses: Loss[]; before: boolean; after: boolean }

/** The dead-letter reason of a message singled out by `evidence`, with its size (MQTT 3.1.1 cannot announce a size limit). */
export function poisonReason(evidence: PoisonEvidence, url: string, packetBytes: number): string {
  const size = `its PUBLISH packet is ${packetBytes} bytes`
  if (evidence.kind === 'named')
    return `the MQTT broker at ${url} closed the connection with ${describeLoss(evidence.loss)} while this message alone was unacknowledged; ${size}`
  const { losses, before, after } = evidence
  const causes = [...new Set(losses.map(describeLoss))].join('; ')
  const times = `each time this message was sent alone, ${losses.length} times (${causes})`
  const what = losses.every((l) => l.kind === 'closed')
    ? `the MQTT broker at ${url} closed the connection ${times}`
    : `the connection to the MQTT broker at ${url} failed ${times}`
  const neighbours =
    before && after
      ? 'the messages written before and after it were'
      : before
        ? 'the message written before it was'
        : 'the message written after it was'
  return `${what}, while ${neighbours} acknowledged; ${size} (if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit)`
}

/** The reason of each message a transient verdict fails: the broker's trouble, `why`, never a message's. */
export function brokerTroubleReason(why: string, url: string): string {
  return `the connection to the MQTT broker at ${url} was lost before it acknowledged: ${why}; the broker's trouble, not this message's, so the invocation is retried`
}
