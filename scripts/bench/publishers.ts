// What a measured publisher is: prepare a batch (untimed: building the event or the lines), then send
// it (timed). The bridge and the three references all fit this shape.
import type { MqttClient } from 'mqtt'
import type { BenchQos, PlainMessage } from './messages.js'

export type Protocol = 4 | 5

export interface Publisher {
  readonly name: string
  /** Builds what `send` needs for batch `key` of `count` messages; the returned function is what is timed. */
  prepare(key: string, count: number): () => Promise<void>
  close(): Promise<void>
}

export interface ScenarioShape {
  url: string
  qos: BenchQos
  version: Protocol
  /** For mqtts://: the CA that signed the broker's certificate (verified, as in production). */
  caFile?: string
}

/** The bridge's own bound on publishes in flight per connection, used by the plain loops too. */
export const IN_FLIGHT = 20

/** Publishes in order with at most `window` unacknowledged, the way the bridge's pool does. */
export async function publishBounded(client: MqttClient, messages: PlainMessage[], qos: BenchQos, window = IN_FLIGHT): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++]!
      await client.publishAsync(m.topic, m.payload, { qos })
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, messages.length) }, worker))
}
