// The size of a PUBLISH packet exactly as mqtt-packet (MQTT.js's encoder) writes it, so a broker's maximum
// packet size is known to be exceeded before anything is sent (docs/reliability.md, "Broker limits").
import type { Publish } from '../mapping/publish.js'
import type { ProfileName } from '../rules/profiles.js'

/** The largest packet MQTT can encode: 1 header byte, 4 length bytes, 268,435,455 bytes after them. */
export const MQTT_MAX_PACKET_BYTES = 1 + 4 + 268_435_455

/**
 * MQTT_MAX_PACKET_SIZE when it is not set. `mqtt`: what MQTT can encode. `alibaba`: ApsaraMQ for MQTT's 64 KB
 * message (docs/platform-facts.md §3) with room for the longest topic and 8 KB of user properties.
 */
export const DEFAULT_MAX_PACKET_BYTES: Record<ProfileName, number> = {
  mqtt: MQTT_MAX_PACKET_BYTES,
  alibaba: 64 * 1024 + 16 * 1024,
}

/** Bytes of MQTT's variable byte integer for `n`. */
function varIntBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}

/** Bytes of the properties section (its length prefix included) that mqtt-packet writes for these properties. */
function propertiesBytes(p: Publish['properties']): number {
  let n = 0
  if (p?.messageExpiryInterval !== undefined) n += 1 + 4
  if (p?.contentType !== undefined) n += 1 + 2 + Buffer.byteLength(p.contentType)
  const user = p?.userProperties
  if (user) {
    for (const name of Object.getOwnPropertyNames(user)) {
      const nameBytes = Buffer.byteLength(name)
      const value = user[name]!
      for (const v of Array.isArray(value) ? value : [value]) n += 1 + 2 + nameBytes + 2 + Buffer.byteLength(v)
    }
  }
  return varIntBytes(n) + n
}

/** The whole PUBLISH packet, fixed header included; MQTT 5 properties count only when they are sent. */
export function publishPacketBytes(p: Publish, v5: boolean): number {
  const remaining = 2 + Buffer.byteLength(p.topic) + (p.qos > 0 ? 2 : 0) + (v5 ? propertiesBytes(p.properties) : 0) + p.payload.length
  return 1 + varIntBytes(remaining) + remaining
}
