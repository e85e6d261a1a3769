// What this instance delivered, so that a retried batch is not published twice by it. A message is known by
// rule, message ID and a fingerprint of what was published: a different message that reuses a delivered ID
// (producers set UNIQ_KEY, and its format is predictable) is published, never silently suppressed
// (docs/reliability.md, "Duplicates").
import { createHash } from 'node:crypto'
import type { Publish } from '../mapping/publish.js'
import { BoundedSet } from './bounded-set.js'

export class DeliveredMemory {
  private readonly keys: BoundedSet
  private readonly fingerprints = new WeakMap<Publish, string>()

  constructor(capacity: number) {
    this.keys = new BoundedSet(capacity)
  }

  /** Only messages with an ID can be recognised again. */
  has(p: Publish): boolean {
    return p.messageId !== undefined && this.keys.has(this.keyOf(p))
  }

  remember(p: Publish): void {
    if (p.messageId !== undefined) this.keys.add(this.keyOf(p))
  }

  /** The content fingerprint, computed once per publish; the fleet store keys messages by it too. */
  fingerprintOf(p: Publish): string {
    let fp = this.fingerprints.get(p)
    if (fp === undefined) {
      fp = fingerprint(p)
      this.fingerprints.set(p, fp)
    }
    return fp
  }

  private keyOf(p: Publish): string {
    return `${p.ruleId}\u0000${p.messageId}\u0000${this.fingerprintOf(p)}`
  }
}

/** SHA-256 of the topic, QoS, retain flag, MQTT 5 properties and payload: a collision is out of reach. */
export function fingerprint(p: Publish): string {
  return createHash('sha256')
    .update(JSON.stringify([p.topic, p.qos, p.retain, p.properties ?? null, p.payload.length]))
    .update(p.payload)
    .digest('base64')
}
