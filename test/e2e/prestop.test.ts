// The bridge's preStop hook as s.yaml configures it, on the built bundle: when the local server stops (as
// Function Compute reclaims an instance), every pool connection ends with DISCONNECT. Mosquitto's log tells
// a client that disconnected from one that dropped; a dropped client is the control.

import assert from 'node:assert/strict'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { buildAll } from '../../scripts/build.js'
import { readDeployment } from '../../scripts/local/deployment.js'
import { type LocalFc, startLocalFc } from '../../scripts/local/fc-server.js'
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../../scripts/local/start-options.js'
import { FcInvoker } from '../../shared/fc/invoke.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { needsMosquitto } from '../helpers/requirements.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const lines: string[] = []

/** Polls Mosquitto's log (it writes as events happen) until `done` holds; fails naming what is missing. */
async function logShows(broker: Broker, done: (log: string) => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000
  while (!done(broker.log())) {
    if (Date.now() > until) assert.fail(`Mosquitto's log never showed ${what}:\n${broker.log()}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('preStop closes the pool with DISCONNECT', needsMosquitto(), () => {
  let broker: Broker
  let fc: LocalFc | undefined

  before(async () => {
    if (!existsSync(join(root, 'dist/bridge/index.js'))) await buildAll({ quiet: true })
    broker = await startMosquitto()
    Object.assign(process.env, {
      MQTT_URL: broker.url,
      MQTT_POOL_SIZE: '2',
      MQTT_CLIENT_ID_PREFIX: 'GID_prestop',
      DEAD_LETTER_TARGET: `file:${mkdtempSync(join(tmpdir(), 'prestop-dl-'))}`,
    })
  })
  after(async () => {
    await fc?.close()
    await broker?.stop()
  })

  test('a dropped client, for contrast, is logged as one that closed its connection, not as disconnected', async () => {
    const client = await connectAsync(broker.url, { clientId: 'GID_control@@@dropped', reconnectPeriod: 0 })
    client.stream.destroy()
    await logShows(broker, (log) => log.includes('Client GID_control@@@dropped closed its connection'), 'the dropped client')
    assert.ok(!broker.log().includes('Client GID_control@@@dropped disconnected'))
  })

  test('stopping the server runs index.preStop: every connection of the pool sends DISCONNECT', async () => {
    const deployment = readDeployment(join(root, 's.yaml'), process.env, LOCAL_ACCOUNT_ID)
    const bridge = deployment.functions.find((f) => f.role === 'bridge')!
    assert.equal(bridge.preStop, 'index.preStop', 'the hook comes from s.yaml')
    const { onFailure: _none, ...served } = bridge
    fc = await startLocalFc({ functions: [served], credentials: LOCAL_CREDENTIALS, log: (l) => lines.push(l) })
    const invoker = new FcInvoker({ accountId: LOCAL_ACCOUNT_ID, region: 'cn-hangzhou', credentials: LOCAL_CREDENTIALS, endpoint: fc.url })
    const event = [
      {
        topic: 'TopicName',
        systemProperties: { TAGS: 'TagA', INSTANCE_ID: 'MQ_INST_1234567890123456_BXhFHryi' },
        userProperties: { mqttSecondTopic: '/prestop/lamp' },
        body: 'on',
      },
    ]
    const result = await invoker.invoke(bridge.name, JSON.stringify(event), 'Sync')
    assert.equal((result.body as { published: number }).published, 1)
    const ids = [...broker.log().matchAll(/New client connected from \S+ as (GID_prestop@@@\S+)/g)].map((m) => m[1]!)
    assert.equal(ids.length, 2, `two pool connections:\n${broker.log()}`)

    await fc.close()
    fc = undefined
    await logShows(
      broker,
      (log) => ids.every((id) => log.includes(`Client ${id} disconnected.`)),
      `both clients disconnecting (${ids.join(', ')})`,
    )
    for (const id of ids) assert.ok(!broker.log().includes(`Client ${id} closed its connection`), `${id} dropped instead`)
    const stopLine = lines.find((l) => l.includes('"event":"bridge.pre-stop"'))
    assert.ok(stopLine, lines.join('\n'))
    assert.match(stopLine, /-prestop \[info\] .*"connections":2,"outcome":"closed"/)
  })
})
