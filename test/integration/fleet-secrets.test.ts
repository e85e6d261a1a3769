// The fleet store over TLS (rediss://) with a password, as a deployment would use ApsaraDB for Redis: it works
// with the CA, fails clearly without it, and no password appears in any log line or error.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext, logEvents } from '../helpers/fc-context.js'
import { commands, needsFleet } from '../helpers/fleet.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { SCENARIO_RULES } from '../helpers/scenario.js'

let redis: RedisServer
let broker: Broker
const bridges: Bridge[] = []

function bridge(env: Record<string, string>): Bridge {
  const b = new Bridge(
    loadConfig({ MQTT_URL: broker.url, DEAD_LETTER_TARGET: 'file:/tmp/fleet-secrets-dl', LOG_LEVEL: 'debug', ...env }),
    loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' })),
  )
  bridges.push(b)
  return b
}

/** Runs one invocation; its error message (if it threw) and every log line, for the checks. */
async function invoke(b: Bridge, event: unknown[], id: string) {
  const ctx = fcContext(id)
  try {
    return { summary: await b.handle(event, ctx), error: undefined, ctx, text: ctx.lines.join('\n') }
  } catch (err) {
    return { summary: undefined, error: (err as Error).message, ctx, text: `${(err as Error).message}\n${ctx.lines.join('\n')}` }
  }
}

describe('the fleet store over TLS, with a password', needsFleet(), () => {
  before(async () => {
    redis = await startRedis({ tls: true })
    broker = await startMosquitto()
  })
  after(async () => {
    for (const b of bridges) await b.close()
    await broker?.stop()
    await redis?.stop()
  })

  test('rediss:// with FLEET_REDIS_CA_FILE and FLEET_REDIS_PASSWORD: claims work, the password never shows', async () => {
    const b = bridge(redis.env())
    const { event } = commands(20, 'TLS-')
    const first = await invoke(b, event, 'tls-1')
    assert.equal(first.summary?.published, 20)
    // Another instance (its own connection) sees them complete in the store.
    const other = await invoke(bridge(redis.env()), event, 'tls-2')
    assert.deepEqual([other.summary?.published, other.summary?.duplicates], [0, 20])
    assert.ok(logEvents(other.ctx, 'fleet.batch').length === 1, 'the fleet store was used')
    for (const r of [first, other]) assert.ok(!r.text.includes(redis.password))
  })

  test("without the CA the store's certificate is refused: nothing published, the error names FLEET_REDIS_URL", async () => {
    const { FLEET_REDIS_CA_FILE: _, ...noCa } = redis.env()
    const r = await invoke(bridge(noCa), commands(5, 'NO-CA-').event, 'no-ca')
    assert.equal(r.summary, undefined)
    assert.match(
      r.error ?? '',
      new RegExp(`5 × the fleet store at FLEET_REDIS_URL=${redis.url} failed \\(connecting to 127\\.0\\.0\\.1:\\d+\\): .*certificate`),
    )
    assert.match(r.error ?? '', /not published, so that nothing goes out unchecked/)
    assert.ok(!r.text.includes(redis.password))
  })

  test('FLEET_REDIS_TLS_INSECURE=true connects without verifying, and says so once', async () => {
    const { FLEET_REDIS_CA_FILE: _, ...noCa } = redis.env()
    const b = bridge({ ...noCa, FLEET_REDIS_TLS_INSECURE: 'true' })
    const r = await invoke(b, commands(5, 'INSECURE-').event, 'insecure')
    assert.equal(r.summary?.published, 5)
    assert.equal(logEvents(r.ctx, 'fleet.tls-insecure').length, 1)
    const again = await invoke(b, commands(5, 'INSECURE-2-').event, 'insecure-2')
    assert.equal(logEvents(again.ctx, 'fleet.tls-insecure').length, 0)
  })

  test('a wrong password: refused by the store, the invocation fails as transient, neither password in any output', async () => {
    const wrong = 'wrong-fleet-password-5678'
    const r = await invoke(bridge({ ...redis.env(), FLEET_REDIS_PASSWORD: wrong }), commands(5, 'WRONG-').event, 'wrong')
    assert.match(r.error ?? '', /^5 of 5 messages not delivered: 5 × the fleet store at FLEET_REDIS_URL=.*WRONGPASS/)
    assert.ok(!r.text.includes(wrong) && !r.text.includes(redis.password))
  })
})
