// MQTT 5 reason codes (OASIS MQTT 5.0, §2.4), every one by its name, and which of them single out the
// message they answer (docs/reliability.md, "Poison isolation"). A code that is about the packet (its size,
// topic, payload format, QoS, retain flag, the client's right to publish it) names the message; a code about
// the broker, the session or the flow of the connection (busy, shutting down, session taken over, quota,
// rate, use another server) is the broker's trouble: the message is retried, never dead-lettered.

export const REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'Success',
  1: 'Granted QoS 1',
  2: 'Granted QoS 2',
  4: 'Disconnect with Will Message',
  16: 'No matching subscribers',
  17: 'No subscription existed',
  24: 'Continue authentication',
  25: 'Re-authenticate',
  128: 'Unspecified error',
  129: 'Malformed Packet',
  130: 'Protocol Error',
  131: 'Implementation specific error',
  132: 'Unsupported Protocol Version',
  133: 'Client Identifier not valid',
  134: 'Bad User Name or Password',
  135: 'Not authorized',
  136: 'Server unavailable',
  137: 'Server busy',
  138: 'Banned',
  139: 'Server shutting down',
  140: 'Bad authentication method',
  141: 'Keep Alive timeout',
  142: 'Session taken over',
  143: 'Topic Filter invalid',
  144: 'Topic Name invalid',
  145: 'Packet Identifier in use',
  146: 'Packet Identifier not found',
  147: 'Receive Maximum exceeded',
  148: 'Topic Alias invalid',
  149: 'Packet too large',
  150: 'Message rate too high',
  151: 'Quota exceeded',
  152: 'Administrative action',
  153: 'Payload format invalid',
  154: 'Retain not supported',
  155: 'QoS not supported',
  156: 'Use another server',
  157: 'Server moved',
  158: 'Shared Subscriptions not supported',
  159: 'Connection rate exceeded',
  160: 'Maximum connect time',
  161: 'Subscription Identifiers not supported',
  162: 'Wildcard Subscriptions not supported',
}

/** `0x87 (Not authorized)`; a code outside §2.4 says so. */
export function reasonName(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')} (${REASON_NAMES[code] ?? 'not a reason code of MQTT 5'})`
}

/**
 * PUBACK/PUBREC/PUBCOMP codes that single out the message they answer: its client may not publish it (0x87),
 * its topic (0x90), size (0x95), payload format (0x99), retain flag (0x9A) or QoS (0x9B) is refused, or the
 * broker will not take this valid PUBLISH (0x83, which §3.4.2.1 defines so). A retry would be refused again:
 * a dead letter. 0x87 and 0x83 can answer everything a deployment sends, though: they stand only with
 * evidence that the broker takes the bridge's publishes (wide-refusals.ts). Every other code fails as
 * transient, as the DISCONNECT table does: one about the broker or the session (0x80, busy, shutting down,
 * session taken over, quota, rate, administrative, use another server, …), one no PUBACK should carry, one
 * outside §2.4, and PUBCOMP 0x92 (Packet Identifier not found: after a successful PUBREC the broker either
 * delivered the message already or lost its session's state; the retry delivers it at least once either way).
 */
export const POISON_PUBLISH_CODES: ReadonlySet<number> = new Set([0x83, 0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b])

/**
 * DISCONNECT codes about the packet being read. While one message alone is unacknowledged, such a code names
 * it; with several in flight it says only that one of them is at fault, and isolation finds which.
 */
export const DISCONNECT_ABOUT_THE_PACKET: ReadonlySet<number> = new Set([0x81, 0x82, 0x83, 0x87, 0x90, 0x94, 0x95, 0x99, 0x9a, 0x9b])

/**
 * DISCONNECT codes of the broker's own reasons: normal, the connect codes, busy, shutting down, keepalive,
 * session taken over, receive maximum (the window, not a message), rate, quota, administrative, use another
 * server, moved, connect rate, connect time. Nothing written is to blame: reconnecting at once would only
 * repeat it (a takeover would kick the other client off in turn), so what is left is retried. Any other code
 * (0x80 "Unspecified error" among them) counts as a close without a reason: only evidence blames a message.
 */
export const DISCONNECT_BROKERS_OWN: ReadonlySet<number> = new Set([
  0x00, 0x04, 0x84, 0x85, 0x86, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x93, 0x96, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0,
])
