// With known secrets configured, run the failure scenarios and look for them everywhere the bridge
// writes: log lines, error messages (and stacks), dead-letter entries.
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { signaturePassword } from '../../shared/mqtt/auth.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { fcContext, logEvents, type TestContext } from '../helpers/fc-context.js'
import { freePort } from '../helpers/ports.js'
import { cloudEvent, makeBatch, SCENARIO_RULES } from '../helpers/scenario.js'

const PASSWORD = 'Kn0wn-MQTT-Passw0rd!'
const AK_SECRET = 'Kn0wnAccessKeySecret123'
const STS = { accessKeyId: 'STS.id', accessKeySecret: 'Kn0wnStsSecret456', securityToken: 'Kn0wnSecurityToken789' }
const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))

/**
 * An embedded broker that checks either credential: the password, or the Alibaba signature of the client
 * ID. `received(n)` resolves once it has taken n more publishes from the bridge.
 */
async function checkingBroker(port: number): Promise<{ received(n: number): Promise<void>; stop(): Promise<void> }> {
  const { Aedes } = await import('aedes')
  const aedes = await Aedes.createBroker()
  let publishes = 0
  const waiters: Array<{ n: number; done: () => void }> = []
  aedes.on('publish', (_packet, client) => {
    if (!client?.id.startsWith('GID_bridge@@@')) return
    publishes++
    for (const w of waiters.filter((x) => publishes >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.done()
    }
  })
  aedes.authenticate = (client, username, password, done) => {
    const ok =
      (username === 'bridge' && password?.toString() === PASSWORD) ||
      (username === 'Signature|AKID|mqtt-inst' && password?.toString() === signaturePassword(AK_SECRET, client.id))
    if (ok) return done(null, true)
    done(Object.assign(new Error('bad credentials'), { returnCode: 4 as const }), false)
  }
  const sockets = new Set<Socket>()
  const server: Server = createServer(aedes.handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()))
  return {
    received: (n) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the broker took ${publishes} publishes, not ${n} more, within 10 s`)), 10_000)
        waiters.push({ n: publishes + n, done: () => resolve(clearTimeout(timer)) })
      }),
    async stop() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => aedes.close(() => r()))
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

const modes = {
  password: { MQTT_AUTH: 'password', MQTT_USERNAME: 'bridge', MQTT_PASSWORD: PASSWORD },
  signature: { MQTT_AUTH: 'signature', MQTT_INSTANCE_ID: 'mqtt-inst', MQTT_ACCESS_KEY_ID: 'AKID', MQTT_ACCESS_KEY_SECRET: AK_SECRET },
} as const

for (const [mode, auth] of Object.entries(modes)) {
  describe(`no secret anywhere, MQTT_AUTH=${mode}`, () => {
    test('across poison messages, a wrong secret, a dead broker, a silent broker, a broker lost mid-batch and a failed hand-off', async () => {
      const port = await freePort()
      const dlDir = mkdtempSync(join(tmpdir(), 'dl-'))
      const env = (extra: Record<string, string> = {}) => ({
        MQTT_URL: `mqtt://127.0.0.1:${port}`,
        MQTT_PUBLISH_TIMEOUT_MS: '800',
        MQTT_PROTOCOL_VERSION: '4',
        DEAD_LETTER_TARGET: `file:${dlDir}`,
        ...auth,
        ...extra,
      })
      const contexts: TestContext[] = []
      const errors: string[] = []
      /** What each scenario came to: its summary, or its error's message. */
      const outcomes: Record<string, Summary | string> = {}
      const ctx = (id: string) => {
        const c = fcContext(id, 10, { credentials: STS })
        contexts.push(c)
        return c
      }
      const attempt = async (bridge: Bridge, event: unknown, id: string) => {
        try {
          outcomes[id] = await bridge.handle(event, ctx(id))
        } catch (err) {
          outcomes[id] = (err as Error).message
          errors.push(`${(err as Error).message}\n${(err as Error).stack}`)
        }
      }
      const withPoison = () => {
        const { event } = makeBatch(20, `${mode}-${Math.random()}`)
        event.splice(5, 0, cloudEvent(5, { topic: 'device-commands', userProperties: { qoslevel: '9' }, body: 'x' }))
        return event
      }

      // 1. Broker down: unreachable.
      const b1 = new Bridge(loadConfig(env()), rules)
      await attempt(b1, withPoison(), 'down')
      // 2. Broker up: poison messages become dead letters; a wrong secret is refused.
      const broker = await checkingBroker(port)
      await attempt(b1, withPoison(), 'up')
      const wrong: Record<string, string> =
        mode === 'password' ? { MQTT_PASSWORD: `${PASSWORD}-wrong` } : { MQTT_ACCESS_KEY_SECRET: `${AK_SECRET}-wrong` }
      const b2 = new Bridge(loadConfig(env(wrong)), rules)
      await attempt(b2, withPoison(), 'refused')
      // 3. Broker lost in the middle of a large batch.
      const lost = attempt(b1, makeBatch(3000, `lost-${mode}`).event, 'lost')
      await broker.received(100)
      await broker.stop()
      await lost
      // 4. A silent broker: accepts TCP, never answers.
      const silent = createServer(() => {})
      await new Promise<void>((r) => silent.listen(port, '127.0.0.1', () => r()))
      const b3 = new Bridge(loadConfig(env()), rules)
      await attempt(b3, withPoison(), 'silent')
      silent.close()
      // 5. The dead-letter hand-off fails.
      const file = join(dlDir, 'a-file')
      writeFileSync(file, '')
      const b4 = new Bridge(loadConfig(env({ DEAD_LETTER_TARGET: `file:${file}/sub` })), rules)
      await attempt(b4, withPoison(), 'handoff')
      for (const b of [b1, b2, b3, b4]) await b.close()

      const lines = contexts.flatMap((c) => c.lines)
      const stored = readdirSync(dlDir)
        .filter((n) => n.endsWith('.jsonl'))
        .map((n) => readFileSync(join(dlDir, n), 'utf8'))
        .join('\n')
      // Each scenario happened as named, so its error and log lines are there to search.
      const failed = (id: string, reason: RegExp) => {
        assert.equal(typeof outcomes[id], 'string', `${id}: the invocation must fail, got ${JSON.stringify(outcomes[id])}`)
        assert.match(outcomes[id] as string, reason, id)
        const failures = logEvents(contexts.find((c) => c.requestId === id)!, 'bridge.failure')
        assert.ok(failures.length > 0, `${id}: failures are logged`)
      }
      failed('down', /^20 of 20 messages not delivered.*cannot reach the MQTT broker/)
      assert.deepEqual(
        [(outcomes['up'] as Summary).published, (outcomes['up'] as Summary).deadLettered],
        [20, 1],
        'up: delivered, the poison dead-lettered',
      )
      failed('refused', /^20 of 20 messages not delivered.*refused the connection/)
      // Lost mid-batch: some of the 3000 were acknowledged before the broker went, the rest were not.
      failed('lost', /^\d+ of 3000 messages not delivered/)
      const unconfirmed = Number(/^(\d+) of 3000/.exec(outcomes['lost'] as string)![1])
      assert.ok(unconfirmed > 0 && unconfirmed < 3000, `lost: ${unconfirmed} of 3000 unconfirmed`)
      failed('silent', /^20 of 20 messages not delivered.*no CONNACK/)
      failed('handoff', /could not hand 1 dead letter to file:/)
      assert.equal(errors.length, 5)
      for (const id of ['down', 'up', 'refused', 'silent', 'handoff']) {
        const c = contexts.find((x) => x.requestId === id)!
        assert.equal(logEvents(c, 'bridge.dead-letter').length, 1, `${id}: the poison message is logged`)
      }
      assert.ok(stored.includes('qoslevel'), 'dead letters were written')
      // The signatures presented are derived secrets: each is as good as a password for its client ID.
      const signatures = [b1, b2, b3, b4].flatMap((b) => b.pool.clientIds).map((id) => signaturePassword(AK_SECRET, id))
      const secrets = [PASSWORD, AK_SECRET, STS.accessKeySecret, STS.securityToken, ...(mode === 'signature' ? signatures : [])]
      for (const secret of secrets) {
        for (const l of lines) assert.ok(!l.includes(secret), `log line holds a secret: ${l}`)
        for (const e of errors) assert.ok(!e.includes(secret), `error holds a secret: ${e}`)
        assert.ok(!stored.includes(secret), 'a dead-letter entry holds a secret')
      }
    })
  })
}
