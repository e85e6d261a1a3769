// When a QoS 0 message is delivered. MQTT gives it no acknowledgement, and bytes written to a socket the
// broker has already closed (after an idle spell, or behind a message it refused) are lost without a word.
// The broker reads a connection in order, so an acknowledgement of any PUBLISH written later, or the
// PINGRESP to a PINGREQ written after it, shows that it was read. "Later" is in the order the pass wrote
// its PUBLISH packets, which is not the order of positions: an ordered rule writes a waiting message after
// later positions, and a message refused unwritten takes a position but writes nothing.

export class QoS0Confirmations {
  /** QoS 0 messages written and not yet confirmed, in write order: their positions and write numbers. */
  private readonly positions: number[] = []
  private readonly numbers: number[] = []
  private first = 0
  /** Every PUBLISH of this pass numbered below this one is known to have been read. */
  private mark = 0
  /** For each PINGREQ written and not yet answered, the PUBLISH packets of this pass written before it. */
  private readonly pingMarks: number[] = []

  /** `pingsInFlight`: PINGREQs written before the pass; their PINGRESPs confirm none of it. */
  constructor(
    pingsInFlight: number,
    private readonly settle: (position: number) => void,
  ) {
    for (let i = 0; i < pingsInFlight; i++) this.pingMarks.push(0)
  }

  /** QoS 0 messages written, waiting for a confirmation. */
  get waiting(): boolean {
    return this.first < this.positions.length
  }

  /** A PINGREQ is on its way, whose PINGRESP will confirm what was written before it. */
  get pinging(): boolean {
    return this.pingMarks.length > 0
  }

  /** A PINGREQ was written after the first `published` PUBLISH packets of this pass. */
  pinged(published: number): void {
    this.pingMarks.push(published)
  }

  /** The QoS 0 message at `position`, this pass's PUBLISH number `written` (from 0), is written (its callback ran). */
  wrote(position: number, written: number): void {
    if (written < this.mark) {
      this.settle(position)
      return
    }
    this.positions.push(position)
    this.numbers.push(written)
  }

  /** The broker acknowledged this pass's PUBLISH number `written`: it read every one written before it. */
  acknowledged(written: number): void {
    this.confirmBelow(written)
  }

  pingAnswered(): void {
    this.confirmBelow(this.pingMarks.shift() ?? 0)
  }

  private confirmBelow(mark: number): void {
    if (mark > this.mark) this.mark = mark
    // Write callbacks run in write order; were one ever late, what follows it waits (confirmed late, never early).
    while (this.first < this.positions.length && this.numbers[this.first]! < this.mark) this.settle(this.positions[this.first++]!)
  }
}
