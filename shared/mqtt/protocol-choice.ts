// MQTT_PROTOCOL_VERSION: 5, 4 (3.1.1), or auto, which tries 5 and falls back to 3.1.1 when the broker refuses it.
import type { Logger } from '../logging/logger.js'

/** MQTT_PROTOCOL_VERSION=auto is decided once per pool, by the first connection that opens. */
export class ProtocolChoice {
  private decided: 4 | 5 | undefined

  constructor(
    readonly requested: 4 | 5 | 'auto',
    private readonly safeUrl: string,
  ) {
    this.decided = requested === 'auto' ? undefined : requested
  }

  get version(): 4 | 5 | undefined {
    return this.decided
  }

  toTry(): Array<4 | 5> {
    return this.decided !== undefined ? [this.decided] : [5, 4]
  }

  decide(version: 4 | 5, log: Logger): void {
    if (this.decided === undefined && version === 4) log.info({ event: 'mqtt.protocol-fallback', url: this.safeUrl, version: '3.1.1' })
    this.decided = version
  }
}
