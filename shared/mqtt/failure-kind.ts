// What a failure means, before or without a lost connection: connect errors become typed errors whose message
// names the broker; a PUBACK/PUBREC/PUBCOMP reason code decides between a dead letter (refused) and a retry
// (failed), with the broker's own words kept; a PUBLISH over the packet limit, the Maximum QoS or Retain
// Available is refused unwritten. A lost connection is loss.ts's.
import { MqttConnectionError, ProtocolRefusedError } from '../errors.js'
import type { Publish } from '../mapping/publish.js'
import type { PublishOutcome } from './outcome.js'
import { publishPacketBytes } from './packet-size.js'
import { POISON_PUBLISH_CODES } from './reason-codes.js'

export { POISON_PUBLISH_CODES } from './reason-codes.js'

export type CodedError = Error & { code?: number | string }

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

/**
 * The outcome of a publish whose acknowledgement came back with an error; `reasonString` is the broker's own
 * words (MQTT 5), kept in the reason: "Publishing to this topic is forbidden by service policy" says more
 * than 0x87.
 */
export function publishError(err: CodedError, url: string, reasonString?: string): PublishOutcome {
  const code = typeof err.code === 'number' ? err.code : undefined
  const codeText = code !== undefined ? ` (reason code 0x${code.toString(16)})` : ''
  const words = reasonString ? `: ${JSON.stringify(reasonString)}` : ''
  const reason = `the MQTT broker at ${url} rejected the publish: ${err.message}${codeText}${words}`
  if (code !== undefined && POISON_PUBLISH_CODES.has(code)) return { kind: 'refused', reason, code }
  return { kind: 'failed', reason }
}

/** Where the largest PUBLISH a connection may send comes from, in words, with its size. */
export interface PacketLimit {
  bytes: number
  source: string
}

/** What the broker takes, as far as it is known before a PUBLISH is written. */
export interface BrokerLimits {
  packetLimit: PacketLimit
  /** The MQTT 5 CONNACK's Maximum QoS; 2 when absent. */
  maxQos?: 0 | 1 | 2
  /** The MQTT 5 CONNACK's Retain Available; true when absent. */
  retainAvailable?: boolean
}

/**
 * Why the broker will not take `p`, if it will not: over its packet limit (it would drop the connection or the
 * message), above its Maximum QoS or retained without Retain Available (it would DISCONNECT, 0x9B or 0x9A) — on
 * every retry, so `p` is refused unwritten, its own fault.
 */
export function refusalOf(p: Publish, v5: boolean, limits: BrokerLimits, url: string): string | undefined {
  const { packetLimit, maxQos = 2, retainAvailable = true } = limits
  const bytes = publishPacketBytes(p, v5)
  if (bytes > packetLimit.bytes)
    return `its PUBLISH packet would be ${bytes} bytes; the MQTT broker at ${url} takes at most ${packetLimit.bytes} (${packetLimit.source})`
  if (p.qos > maxQos)
    return `it is published at QoS ${p.qos} (its rule's or its qoslevel's); the MQTT broker at ${url} takes at most QoS ${maxQos} (the Maximum QoS in its CONNACK)`
  if (p.retain && !retainAvailable)
    return `it is retained; the MQTT broker at ${url} does not take retained messages (Retain Available is 0 in its CONNACK)`
  return undefined
}
