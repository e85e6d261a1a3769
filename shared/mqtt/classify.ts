// What a failure means: connect errors become typed errors whose message names the broker; a PUBACK/PUBREC
// reason code decides between a dead letter (refused) and a retry (failed); a lost connection blames the
// message alone in flight, or not (docs/reliability.md, "Poison isolation").
import { MqttConnectionError, ProtocolRefusedError } from '../errors.js'
import type { PublishOutcome } from './outcome.js'

export type CodedError = Error & { code?: number | string }

/** PUBACK/PUBREC reason codes that say "try again later" rather than "never". */
export const TRANSIENT_PUBLISH_CODES: ReadonlySet<number> = new Set([0x80, 0x89, 0x97])
/** CONNACK codes for "unacceptable protocol version": 3.1.1's 1 and MQTT 5's 0x84. */
const PROTOCOL_REFUSED_CODES = new Set([1, 132])
/** Node's certificate verification failures. */
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/

export function connectError(err: CodedError, version: 4 | 5, url: string): MqttConnectionError {
  if (typeof err.code === 'number') {
    if (version === 5 && PROTOCOL_REFUSED_CODES.has(err.code))
      return new ProtocolRefusedError(`the MQTT broker at ${url} does not accept MQTT 5: ${err.message}`, err.code)
    return new MqttConnectionError(`the MQTT broker at ${url} refused the connection: ${err.message} (code ${err.code})`, err.code)
  }
  if (typeof err.code === 'string' && TLS_CODES.test(err.code)) {
    return new MqttConnectionError(
      `the TLS certificate of the MQTT broker at ${url} is not trusted: ${err.message} (${err.code}); ` +
        'set MQTT_CA_FILE to the CA that signed it',
      err.code,
    )
  }
  if (typeof err.code === 'string') return new MqttConnectionError(`cannot reach the MQTT broker at ${url}: ${err.code}`, err.code)
  return new MqttConnectionError(`MQTT connection to ${url} failed: ${err.message}`)
}

/**
 * A close before CONNACK on MQTT 5 may be a broker that does not speak it (RabbitMQ 3.10 does that): with
 * `auto`, 3.1.1 is tried next; with MQTT_PROTOCOL_VERSION=5 the message says what to set instead.
 */
export function closedBeforeConnack(version: 4 | 5, auto: boolean, url: string): MqttConnectionError {
  const message = `the MQTT broker at ${url} closed the connection before CONNACK`
  if (version === 5 && auto) return new ProtocolRefusedError(message)
  if (version === 5)
    return new MqttConnectionError(
      `${message}; it may not speak MQTT 5: set MQTT_PROTOCOL_VERSION=auto (MQTT 5, falling back to 3.1.1) or MQTT_PROTOCOL_VERSION=4`,
    )
  return new MqttConnectionError(message)
}

/** The outcome of a publish whose acknowledgement came back with an error. */
export function publishError(err: CodedError, url: string): PublishOutcome {
  const code = typeof err.code === 'number' ? err.code : undefined
  const codeText = code !== undefined ? ` (reason code 0x${code.toString(16)})` : ''
  const reason = `the MQTT broker at ${url} rejected the publish: ${err.message}${codeText}`
  if (code !== undefined && code >= 0x80 && !TRANSIENT_PUBLISH_CODES.has(code)) return { kind: 'refused', reason, code }
  return { kind: 'failed', reason }
}

/** How a connection was lost during a pass: closed (with the broker's MQTT 5 DISCONNECT, if any), or an MQTT.js error. */
export type Loss =
  | { kind: 'closed'; disconnect?: { code: number; reasonString?: string }; socketError?: string }
  | { kind: 'error'; message: string }

/**
 * MQTT 5 DISCONNECT reason codes about the connection or the broker, not about the message in flight: normal,
 * unspecified, busy, shutting down, keepalive, takeover, rate, quota, administrative, moved, connect rate or time.
 */
const NOT_ABOUT_THE_MESSAGE: ReadonlySet<number> = new Set([
  0x00, 0x04, 0x80, 0x89, 0x8b, 0x8d, 0x8e, 0x96, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0,
])

/** An MQTT.js 'error' event as a Loss: a socket error (ECONNRESET, EPIPE) is the broker closing the connection. */
export function lossOf(err: CodedError): Loss {
  if (typeof err.code === 'string') return { kind: 'closed', socketError: err.code }
  return { kind: 'error', message: err.message }
}

/** Whether a loss may be the fault of the one message in flight when it happened. */
export function blames(loss: Loss): boolean {
  if (loss.kind === 'error') return loss.message !== 'Keepalive timeout'
  return loss.disconnect === undefined || !NOT_ABOUT_THE_MESSAGE.has(loss.disconnect.code)
}

const DISCONNECT_NAMES: Record<number, string> = {
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  135: 'Not authorized',
  144: 'Topic Name invalid',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
}

/** The loss in words, for reasons and logs. */
export function describeLoss(loss: Loss): string {
  if (loss.kind === 'error') return `MQTT.js: ${loss.message}${unreadableCodeHint(loss.message)}`
  const d = loss.disconnect
  if (d) {
    const name = DISCONNECT_NAMES[d.code] ?? 'reason code of MQTT 5'
    return `DISCONNECT reason code 0x${d.code.toString(16)} (${name})${d.reasonString ? `: ${JSON.stringify(d.reasonString)}` : ''}`
  }
  return loss.socketError ? `connection reset (${loss.socketError})` : 'closed without a DISCONNECT reason'
}

/** MQTT.js cannot parse a PUBACK/PUBREC reason code it does not know, such as Mosquitto's 0x95 for message_size_limit. */
function unreadableCodeHint(message: string): string {
  return /^Invalid (puback|pubrec|pubcomp) reason code$/.test(message)
    ? ' (the broker answered with a reason code MQTT.js cannot read, such as 0x95 "Packet too large" for a message over its message_size_limit)'
    : ''
}

/**
 * The dead-letter reason of a message the broker would not take, found by isolation: every loss it was sent
 * into, and its size, since a size limit that MQTT 3.1.1 cannot announce is the usual cause.
 */
export function poisonReason(losses: readonly Loss[], url: string, packetBytes: number): string {
  const causes = [...new Set(losses.map(describeLoss))].join('; ')
  const times = `each time this message was sent, ${losses.length} times`
  const what = losses.every((l) => l.kind === 'closed')
    ? `the MQTT broker at ${url} closed the connection ${times}: ${causes}`
    : `the connection to the MQTT broker at ${url} failed ${times}: ${causes}`
  const announced = losses.some((l) => l.kind === 'closed' && l.disconnect !== undefined)
  const size = `its PUBLISH packet is ${packetBytes} bytes`
  return announced ? `${what}; ${size}` : `${what}; ${size} (if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit)`
}

/** Where the largest PUBLISH a connection may send comes from, in words, with its size. */
export interface PacketLimit {
  bytes: number
  source: string
}

export function oversizeReason(packetBytes: number, limit: PacketLimit, url: string): string {
  return `its PUBLISH packet would be ${packetBytes} bytes; the MQTT broker at ${url} takes at most ${limit.bytes} (${limit.source})`
}
