// The one subscriber (scripts/mqtt/subscriber.ts) that npm start, npm run smoke, the benchmark and the tests use:
// it gets in wherever the bridge does (MQTT_AUTH password and signature), and says when it loses its broker and
// when it has it back, subscribed again.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { connectAsync } from 'mqtt'
import { startSubscriber } from '../../scripts/local/start.js'
import { bridgeSettings, type ConnectionEvent, connectSubscriber } from '../../scripts/mqtt/subscriber.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { signaturePassword } from '../../shared/mqtt/auth.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { needsMosquitto } from '../helpers/requirements.js'

const brokers: Broker[] = []
after(async () => {
  for (const b of brokers) await b.close()
})

async function publish(url: string, topic: string, payload: string, auth: { username?: string; password?: string } = {}) {
  const c = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ...auth })
  await c.publishAsync(topic, payload, { qos: 1 })
  await c.endAsync()
}

describe('the one subscriber', needsMosquitto(), () => {
  test('authenticates as the bridge does: MQTT_USERNAME and MQTT_PASSWORD, and the signature for its own client ID', async () => {
    const password = { username: 'bridge', password: 's3cret' }
    const b = await startMosquitto({ password })
    brokers.push(b)
    const env = { MQTT_URL: b.url, MQTT_AUTH: 'password', MQTT_USERNAME: 'bridge', MQTT_PASSWORD: 's3cret' }
    const sub = await connectSubscriber({ ...bridgeSettings(loadConfig(env), 'test'), topics: ['t/#'] })
    assert.match(sub.clientId, /^GID_bridge@@@test[0-9a-f]{8}$/)
    await publish(b.url, 't/1', 'one', password)
    assert.ok(await sub.waitUntil((m) => m.some((x) => x.payload.toString() === 'one'), 10_000))
    await sub.close()
    await assert.rejects(connectSubscriber({ ...bridgeSettings(loadConfig({ ...env, MQTT_PASSWORD: 'wrong' }), 'test'), topics: ['t/#'] }))

    const clientId = 'GID_bridge@@@signed'
    const keys = { MQTT_INSTANCE_ID: 'post-cn-x', MQTT_ACCESS_KEY_ID: 'AK', MQTT_ACCESS_KEY_SECRET: 'secret' }
    const signed = await startMosquitto({
      password: { username: 'Signature|AK|post-cn-x', password: signaturePassword('secret', clientId) },
    })
    brokers.push(signed)
    const config = loadConfig({ MQTT_URL: signed.url, MQTT_AUTH: 'signature', ...keys })
    const s = await connectSubscriber({ ...bridgeSettings(config, 'x'), clientId, topics: ['t/#'] })
    assert.equal(s.granted[0], 2)
    await s.close()
  })

  test('says when it loses the broker and when it has it back, and receives again after the restart', async () => {
    const b = await startMosquitto()
    brokers.push(b)
    const events: ConnectionEvent[] = []
    const sub = await connectSubscriber({ url: b.url, topics: ['r/#'], reconnectMs: 100 })
    sub.onConnection = (e) => events.push(e)
    await b.stop()
    await b.start()
    assert.ok(await sub.waitUntil(() => events.some((e) => e.kind === 'regained'), 15_000), JSON.stringify(events))
    assert.equal(events[0]?.kind, 'lost')
    await publish(b.url, 'r/1', 'after')
    assert.ok(await sub.waitUntil((m) => m.some((x) => x.payload.toString() === 'after'), 10_000))
    await sub.close()
  })

  test("npm start's subscriber prints the loss and the reconnection", async () => {
    const b = await startMosquitto()
    brokers.push(b)
    const said: string[] = []
    const sub = await startSubscriber(b.url, ['s/#'], (line) => said.push(line))
    await b.stop()
    await b.start()
    assert.ok(await sub.waitUntil(() => said.length >= 2, 15_000), said.join('\n'))
    assert.match(said[0]!, /^lost the broker/)
    assert.match(said[1]!, /^reconnected to the broker, subscribed to s\/# again$/)
    await sub.close()
  })
})
