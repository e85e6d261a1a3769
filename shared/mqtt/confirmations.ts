// When a QoS 0 message is delivered. MQTT gives it no acknowledgement, and bytes written to a socket the
// broker has already closed (after an idle spell, or behind a message it refused) are lost without a word.
// The broker reads a connection in order, so an acknowledgement of any later message, or the PINGRESP to a
// PINGREQ written after it, shows that it was read.

export class QoS0Confirmations {
  /** Positions of QoS 0 messages written and not yet confirmed, in order; `written[first]` is the oldest. */
  private readonly written: number[] = []
  private first = 0
  /** Every position below this one is known to have been read. */
  private mark = 0
  /** PUBLISH packets seen written in this pass: position k is the (k+1)-th. */
  private publishes = 0
  /** For each PINGREQ written and not yet answered, the PUBLISH packets written before it. */
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
    return this.first < this.written.length
  }

  /** A PINGREQ is on its way, whose PINGRESP will confirm what was written before it. */
  get pinging(): boolean {
    return this.pingMarks.length > 0
  }

  /** MQTT.js wrote a packet (its `packetsend` event). */
  sent(cmd: string): void {
    if (cmd === 'publish') this.publishes++
    else if (cmd === 'pingreq') this.pingMarks.push(this.publishes)
  }

  /** The QoS 0 message at `position` is written (its callback ran). */
  wrote(position: number): void {
    this.written.push(position)
    this.confirmBelow(this.mark)
  }

  /** The broker acknowledged the message at `position`: it read everything written before it. */
  acknowledged(position: number): void {
    this.confirmBelow(position)
  }

  pingAnswered(): void {
    this.confirmBelow(this.pingMarks.shift() ?? 0)
  }

  private confirmBelow(mark: number): void {
    if (mark > this.mark) this.mark = mark
    while (this.first < this.written.length && this.written[this.first]! < this.mark) this.settle(this.written[this.first++]!)
  }
}
