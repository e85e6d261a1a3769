// Message IDs this instance delivered, so that a retried batch is not published twice by it.
import type { Publish } from '../mapping/publish.js'
import { BoundedSet } from './bounded-set.js'

export class DeliveredMemory {
  private readonly keys: BoundedSet

  /** Exact keys, not hashes: a hash collision would skip a message that was never delivered. */
  constructor(capacity: number) {
    this.keys = new BoundedSet(capacity)
  }

  /** Only messages with an ID can be recognised again. */
  has(p: Publish): boolean {
    return p.messageId !== undefined && this.keys.has(keyOf(p))
  }

  remember(p: Publish): void {
    if (p.messageId !== undefined) this.keys.add(keyOf(p))
  }
}

function keyOf(p: Publish): string {
  return `${p.ruleId}\u0000${p.messageId}`
}
