// What every connection of a pool shares (pool.ts builds it once).
import type { IClientOptions, MqttClient } from 'mqtt'
import type { MqttAuth } from './auth.js'
import type { Clock } from './clock.js'
import type { PacketLimit } from './failure-kind.js'
import type { ProtocolChoice } from './protocol-choice.js'
import type { AcceptanceEvidence } from './wide-refusals.js'

export type Connect = (url: string, opts: IClientOptions) => MqttClient

export interface ConnectionSettings {
  url: string
  /** The URL without credentials, for messages and logs. */
  safeUrl: string
  auth: MqttAuth
  publishTimeoutMs: number
  /** MQTT_MAX_IN_FLIGHT; on MQTT 5 the window is the broker's receive maximum, capped by it. */
  maxInFlight: number
  /** MQTT_MAX_PACKET_SIZE (or its default); on MQTT 5 lowered to the broker's maximum packet size. */
  packetLimit: PacketLimit
  /** Messages per second per connection; 0 = unlimited. */
  rateLimit?: number | undefined
  tls?: { ca?: Buffer; insecure?: boolean } | undefined
  choice: ProtocolChoice
  connect: Connect
  clock: Clock
  /** The pool's evidence that the broker takes its publishes (wide-refusals.ts). */
  acceptance: AcceptanceEvidence
  /** Called each time a connection opens (the pool counts them). */
  opened: () => void
}
