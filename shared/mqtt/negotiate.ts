// What one connection may do, from the settings and what the broker said in its CONNACK (MQTT 5): the window
// (MQTT_MAX_IN_FLIGHT, lowered to the receive maximum), the packet limit (MQTT_MAX_PACKET_SIZE, lowered to the
// maximum packet size), the keepalive (the server keepalive, when the broker assigns one), and the highest
// QoS and whether retained messages are taken (Maximum QoS, Retain Available: a message over either is refused
// before it is written, as one over the packet limit is; docs/reliability.md, "Broker limits").
import type { PacketLimit } from './failure-kind.js'

/** MQTT_MAX_IN_FLIGHT's default: Mosquitto's receive maximum; on MQTT 5 the window is the broker's own, capped by it. */
export const MAX_IN_FLIGHT = 20

/** The keepalive the bridge asks for; an MQTT 5 broker may assign another (server keepalive). */
export const KEEPALIVE_S = 60

export interface Limits {
  maxInFlight: number
  packetLimit: PacketLimit
}

/** What the broker said in CONNACK, combined with the settings: what a pass on this connection may do. */
export interface Negotiated {
  version: 4 | 5
  window: number
  packetLimit: PacketLimit
  /** The effective keepalive: the broker's server keepalive when it sent one, else the bridge's. */
  keepaliveMs: number
  /** The Maximum QoS in CONNACK (MQTT 5; 2 when absent, and always on 3.1.1). */
  maxQos: 0 | 1 | 2
  /** Retain Available in CONNACK (MQTT 5; true when absent, and always on 3.1.1). */
  retainAvailable: boolean
}

export type ConnackProperties =
  | { receiveMaximum?: number; maximumPacketSize?: number; serverKeepAlive?: number; maximumQoS?: number; retainAvailable?: boolean }
  | undefined

/** The window, packet limit, keepalive, Maximum QoS and Retain Available of a connection, from the settings and the broker's CONNACK (MQTT 5). */
export function negotiate(version: 4 | 5, connack: ConnackProperties, settings: Limits): Negotiated {
  const window = Math.max(1, Math.min(settings.maxInFlight, connack?.receiveMaximum ?? settings.maxInFlight))
  const advertised = connack?.maximumPacketSize
  const packetLimit =
    advertised !== undefined && advertised < settings.packetLimit.bytes
      ? { bytes: advertised, source: 'the maximum packet size in its CONNACK' }
      : settings.packetLimit
  // A server keepalive of 0 turns keepalive off; the bridge still treats its own 60 s as the idle bound.
  const keepaliveS = connack?.serverKeepAlive || KEEPALIVE_S
  // §3.2.2.3.4: Maximum QoS is 0 or 1 when present; absent, the broker takes QoS 2.
  const maxQos = connack?.maximumQoS === 0 ? 0 : connack?.maximumQoS === 1 ? 1 : 2
  const retainAvailable = connack?.retainAvailable !== false
  return { version, window, packetLimit, keepaliveMs: keepaliveS * 1000, maxQos, retainAvailable }
}
