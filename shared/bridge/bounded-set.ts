/** A set that forgets its oldest members beyond `capacity`, so a long-lived instance does not grow. */
export class BoundedSet {
  private readonly items = new Set<string>()
  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    return this.items.has(key)
  }

  add(key: string): void {
    // Re-adding moves a key to the young end; a new key (the usual case) needs no delete.
    if (this.items.has(key)) this.items.delete(key)
    this.items.add(key)
    if (this.items.size > this.capacity) this.items.delete(this.items.values().next().value!)
  }

  get size(): number {
    return this.items.size
  }
}
