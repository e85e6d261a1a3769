// The subscriber of `npm start`: the one subscriber with the bridge's own broker settings, so it gets in
// wherever the bridge does; it reconnects after a broker restart and says so.
import { loadConfig } from '../../shared/config/bridge.js'
import { messageOf } from '../../shared/errors.js'
import { bridgeSettings, connectSubscriber, type Received, type Subscriber } from '../mqtt/subscriber.js'

export type ReceivedMessage = Received
export type LocalSubscriber = Subscriber

/** Prints as `npm start` does, indented under its sections. */
const print = (line: string) => process.stdout.write(`  subscriber: ${line}\n`)

/** `say` (by default, `npm start`'s output) hears when the broker is lost and when it is back. */
export async function startSubscriber(url: string, topics: string[], say: (line: string) => void = print): Promise<LocalSubscriber> {
  const settings = bridgeSettings(loadConfig({ ...process.env, MQTT_URL: url }), 'start')
  let sub: Subscriber
  try {
    sub = await connectSubscriber({ ...settings, topics, reconnectMs: 1000 })
  } catch (err) {
    throw new Error(`the subscriber cannot subscribe on ${url}: ${messageOf(err)}`)
  }
  sub.onConnection = (e) =>
    say(
      e.kind === 'lost'
        ? `lost the broker (${e.reason}); reconnecting every second`
        : `reconnected to the broker, subscribed to ${topics.join(', ')} again`,
    )
  return sub
}
