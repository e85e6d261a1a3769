// What one pass of the publish window (publish-window.ts) needs: the little of MQTT.js's client it uses, and
// its options.
import type { IClientPublishOptions, IDisconnectPacket, Packet } from 'mqtt'
import type { Clock } from './clock.js'
import type { BrokerLimits, CodedError } from './failure-kind.js'
import type { BrokenGroups } from './group-order.js'
import type { TokenBucket } from './token-bucket.js'
import type { FailedTopics } from './topic-order.js'
import type { AcceptanceEvidence } from './wide-refusals.js'

/**
 * QoS 0 messages handed to MQTT.js and not yet written (its callback waits for the socket's 'drain', one
 * listener each, and the socket allows 1,000: MQTT.js issue #589). More would only grow the socket's buffer.
 */
export const MAX_UNWRITTEN_QOS0 = 500

export interface WindowEvents {
  close: () => void
  error: (err: CodedError) => void
  disconnect: (packet: IDisconnectPacket) => void
  packetsend: (packet: Packet) => void
  packetreceive: (packet: Packet) => void
}

/** The little of MQTT.js's client a pass needs. */
export interface WindowClient {
  /**
   * Calls back on PUBACK (QoS 1), PUBCOMP (QoS 2) or once written (QoS 0), possibly synchronously; with an
   * error reason code, MQTT.js passes the acknowledgement too (its reason string).
   */
  publish(topic: string, payload: Buffer, opts: IClientPublishOptions, cb: (err?: CodedError | null, packet?: Packet) => void): unknown
  sendPing(): void
  /** The socket (MQTT.js's `stream`), corked while one read's packets are handled (publish-window.ts). */
  stream?: {
    cork?: () => void
    uncork?: () => void
    /** QoS 0 packets are written here directly (qos0-writer.ts), while `connected`. */
    write?: (chunk: Buffer) => boolean
    once?: (event: 'drain', listener: () => void) => unknown
  }
  /** MQTT.js's own flag: the CONNACK came and the connection has not closed since. */
  connected?: boolean
  on<E extends keyof WindowEvents>(event: E, listener: WindowEvents[E]): unknown
  removeListener<E extends keyof WindowEvents>(event: E, listener: WindowEvents[E]): unknown
}

/** With what the broker takes (its packet limit, Maximum QoS and Retain Available): failure-kind.ts. */
export interface WindowOptions extends BrokerLimits {
  clock: Clock
  /** Most publishes unacknowledged at once: the broker's receive maximum, capped by MQTT_MAX_IN_FLIGHT. */
  maxInFlight: number
  /** MQTT 5 properties are sent only on a version-5 connection; on 3.1.1 they are dropped and counted. */
  v5: boolean
  /** MQTT_PUBLISH_TIMEOUT_MS: the longest wait for one acknowledgement. */
  publishTimeoutMs: number
  /** MQTT_RATE_LIMIT, shared by every pass on the connection. */
  bucket?: TokenBucket | undefined
  /** PINGREQs written before the pass and not yet answered: their PINGRESPs confirm nothing of it. */
  pingsInFlight?: number
  /**
   * With ordered rules: the message group of each item (by item index; undefined without one), and the
   * groups broken so far in this invocation, shared by every pass of it (group-order.ts).
   */
  groups?: { of: readonly (string | undefined)[]; broken: BrokenGroups } | undefined
  /** Topics whose message (without a group) failed in this invocation, shared by every pass of it (topic-order.ts). */
  failedTopics?: FailedTopics
  /** The pool's evidence that the broker takes its publishes: each success adds to it; a grouped 0x87 reads it (wide-refusals.ts). */
  acceptance?: AcceptanceEvidence | undefined
  safeUrl: string
}
