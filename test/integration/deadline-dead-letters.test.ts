// Delivery deadlines after the first attempt (docs/rules.md, "Delivery deadlines"): the dead-letter timer's
// redrive and npm run replay go through the bridge, which checks every message's deadline again. A transient
// dead letter that has aged out is marked expired and never sent again; one stored as expired is never
// redriven, and replay refuses it unless --ignore-deadline. Real Mosquitto, real store, real bridge.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { replay } from '../../scripts/cli/replay.js'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { type BridgeSender, redrive } from '../../shared/dead-letters/store/redrive.js'
import { DeadLetterStore, readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { failedInvocation } from '../helpers/destination-record.js'
import { fcContext } from '../helpers/fc-context.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'
const MINUTE = 60_000
const RULES = `
defaults: { profile: mqtt }
rules:
  - id: doors
    source: { regionId: cn-hangzhou, instanceId: ${INSTANCE}, topic: door-commands, groupId: GID_test_doors }
    target: { parentTopic: doors, deadline: 10m }
`

/** A door command whose event time is `ageMs` ago. */
function command(id: string, ageMs: number) {
  return {
    id: `e-${id}`,
    specversion: '1.0',
    subject: `acs:mq:cn-hangzhou:1:${INSTANCE}%door-commands`,
    time: new Date(Date.now() - ageMs).toISOString(),
    data: {
      topic: 'door-commands',
      systemProperties: { UNIQ_KEY: id, TAGS: 'TagA' },
      userProperties: { mqttSecondTopic: `/${id}` },
      body: `unlock ${id}`,
    },
  }
}

describe('deadlines on redrive and replay', needsMosquitto(), () => {
  let broker: Broker
  let sub: Subscriber
  let bridge: Bridge
  let dir: string
  let rulesFile: string
  const dirs: string[] = []

  before(async () => {
    broker = await startMosquitto()
    sub = await subscribe(broker.url, ['doors/#'], 5)
    const rulesDir = mkdtempSync(join(tmpdir(), 'deadline-rules-'))
    dirs.push(rulesDir)
    rulesFile = join(rulesDir, 'rules.yaml')
    writeFileSync(rulesFile, RULES)
  })
  after(async () => {
    await bridge?.close()
    await sub?.close()
    await broker?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const fresh = () => {
    dir = mkdtempSync(join(tmpdir(), 'deadline-dl-'))
    dirs.push(dir)
    return new DeadLetterStore(dir, { deadline: Date.now() + 60_000 })
  }
  const env = () => ({ MQTT_URL: broker.url, RULES_FILE: rulesFile, LOG_LEVEL: 'error', MQTT_PUBLISH_TIMEOUT_MS: '5000' })
  const send: BridgeSender = (event, requestId) => bridge.handle(event, fcContext(requestId, 30))

  test('redrive: an aged-out transient entry is expired by the bridge, marked so, and never sent again; a fresh one is delivered', async () => {
    const store = fresh()
    bridge = new Bridge(
      loadConfig({ ...env(), DEAD_LETTER_TARGET: `file:${dir}` }),
      loadRuleSet(rulesFile, () => ({ text: '', origin: '' })),
    )
    await store.put(failedInvocation('fail-1', [command('STALE', 11 * MINUTE)]))
    await store.put(failedInvocation('fail-2', [command('FRESH', MINUTE)]))
    const first = await redrive(new DeadLetterStore(dir, { deadline: Date.now() + 60_000 }), {
      maxAgeMs: 24 * 60 * MINUTE,
      backoffMs: MINUTE,
      send,
      requestId: 'timer-1',
    })
    assert.deepEqual([first.tried, first.replayed, first.pastDeadline, first.stillFailing], [2, 1, 1, 0])
    const stored = await readDeadLetters(dir)
    const stale = stored.find((e) => e.messageId === 'STALE')!
    assert.equal(stale.status, 'expired')
    assert.equal(stale.failure, 'expired', 'the bridge’s expired dead letter joined the same entry')
    assert.equal(stored.length, 2)

    const second = await redrive(new DeadLetterStore(dir, { deadline: Date.now() + 60_000 }), {
      maxAgeMs: 24 * 60 * MINUTE,
      backoffMs: MINUTE,
      send,
      requestId: 'timer-2',
    })
    assert.equal(second.tried, 0)
    await barrier(
      viaClient(broker.url),
      [sub],
      [
        { topic: 'doors/STALE', qos: 1 },
        { topic: 'doors/FRESH', qos: 1 },
      ],
    )
    assert.deepEqual(
      withoutSentinels(sub.messages).map((m) => m.payload.toString()),
      ['unlock FRESH'],
    )
    await bridge.close()
  })

  test('replay refuses an expired entry and says so; --ignore-deadline sends it; one that aged out since is expired by the bridge', async () => {
    const store = fresh()
    const lines: string[] = []
    const print = (l: string) => void lines.push(l)
    // Expired at the first attempt: the bridge stored it with failure "expired".
    bridge = new Bridge(
      loadConfig({ ...env(), DEAD_LETTER_TARGET: `file:${dir}` }),
      loadRuleSet(rulesFile, () => ({ text: '', origin: '' })),
    )
    const summary = await bridge.handle([command('LATE', 12 * MINUTE)], fcContext('req-late'))
    assert.deepEqual([summary.expired, summary.published], [1, 0], JSON.stringify(summary))
    await bridge.close()
    // Failed transiently while fresh, aged out since.
    await store.put(failedInvocation('fail-3', [command('AGED', 11 * MINUTE)]))

    const refused = await replay({ dir, target: 'local', env: env(), print })
    assert.deepEqual([refused.notReplayable, refused.expired, refused.replayed], [1, 1, 0])
    assert.ok(
      lines.some((l) => l.includes('past its delivery deadline (--ignore-deadline sends it anyway)') && l.includes('LATE')),
      lines.join('\n'),
    )
    let stored = await readDeadLetters(dir)
    assert.deepEqual(stored.map((e) => [e.messageId, e.status, e.failure]).sort(), [
      ['AGED', 'expired', 'expired'],
      ['LATE', 'pending', 'expired'],
    ])

    const sent = await replay({
      dir,
      target: 'local',
      env: env(),
      print,
      ignoreDeadline: true,
      keys: [stored.find((e) => e.messageId === 'LATE')!.key],
    })
    assert.deepEqual([sent.replayed, sent.expired], [1, 0])
    await barrier(viaClient(broker.url), [sub], [{ topic: 'doors/LATE', qos: 1 }])
    assert.ok(withoutSentinels(sub.messages).some((m) => m.payload.toString() === 'unlock LATE'))
    stored = await readDeadLetters(dir)
    assert.equal(stored.find((e) => e.messageId === 'LATE')!.status, 'replayed')
  })
})
