// Ordered delivery per message group on a real Mosquitto. The bridge reaches it through the latency proxy,
// which loses the first PUBLISH to one topic for good (a packet the broker never gets, so never answers): the
// group of that message stops there, its later messages unsent, while the other groups go on, whether each
// group has its own topic or all share one; the invocation fails, and its retry delivers the rest of the
// group in order. A message the broker refuses (an ACL) is a
// dead letter and does not hold its group: a retry could never deliver it.
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Bridge } from '../../shared/bridge/bridge.js'
import { loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { DeliveryError } from '../../shared/errors.js'
import { loadRuleSet } from '../../shared/rules/load.js'
import { barrier, viaClient, withoutSentinels } from '../helpers/barrier.js'
import { type Broker, startMosquitto } from '../helpers/broker.js'
import { fcContext } from '../helpers/fc-context.js'
import { type LatencyProxy, startLatencyProxy } from '../helpers/latency-proxy.js'
import { needsMosquitto } from '../helpers/requirements.js'
import { ORDERED_RULES, orderedMessage } from '../helpers/scenario.js'
import { type Subscriber, subscribe } from '../helpers/subscriber.js'

const RULES = ORDERED_RULES

/** The topic the proxy loses the first PUBLISH of, and the one the broker's ACL denies. */
const LOST = 'orders/lost/a'
const DENIED = 'orders/denied/d'

interface Spec {
  group: string
  seq: number
  topic: string
}

/** An event-streaming batch of ordered messages: each a `<group>:<seq>` payload with its group as sharding key. */
function event(tag: string, specs: Spec[]): unknown[] {
  return specs.map((s, i) =>
    orderedMessage(i, {
      group: `${tag}-${s.group}`,
      suffix: s.topic.slice('orders'.length),
      body: `${tag}:${s.group}:${s.seq}`,
      uniq: `${tag}-${s.group}-${s.seq}`,
    }),
  )
}

describe('ordered delivery per message group, on Mosquitto', needsMosquitto(), () => {
  let broker: Broker
  let proxy: LatencyProxy
  let sub: Subscriber
  let bridge: Bridge
  let deadLetters: string
  /** The topic whose next PUBLISH the proxy loses, once. */
  let dropTopic: string | undefined = LOST

  before(async () => {
    broker = await startMosquitto({ denyTopics: ['orders/denied/#'] })
    proxy = await startLatencyProxy(
      { host: '127.0.0.1', port: broker.port },
      {
        rttMs: 2,
        dropPublish: (topic) => {
          if (topic !== dropTopic) return false
          dropTopic = undefined
          return true
        },
      },
    )
    sub = await subscribe(broker.url, ['orders/#'], 5)
    deadLetters = mkdtempSync(join(tmpdir(), 'dl-ordered-'))
    const config = loadConfig({
      MQTT_URL: proxy.url,
      MQTT_PROTOCOL_VERSION: '5',
      MQTT_POOL_SIZE: '2',
      MQTT_PUBLISH_TIMEOUT_MS: '800',
      DEAD_LETTER_TARGET: `file:${deadLetters}`,
    })
    bridge = new Bridge(
      config,
      loadRuleSet(undefined, () => ({ text: RULES, origin: 'ordered groups test' })),
    )
  })
  after(async () => {
    await bridge?.close()
    await sub?.close()
    await proxy?.close()
    await broker?.stop()
  })

  /** What the subscriber has of batch `tag` (after a barrier on every lane), as `<group>:<seq>` in arrival order. */
  async function received(tag: string, lanes: string[]): Promise<string[]> {
    await barrier(
      viaClient(broker.url),
      [sub],
      lanes.map((topic) => ({ topic, qos: 1 })),
    )
    return withoutSentinels(sub.messages)
      .map((m) => m.payload.toString())
      .filter((p) => p.startsWith(`${tag}:`))
      .map((p) => p.slice(tag.length + 1))
  }

  /** The first arrival of each message of `group`, in arrival order, as sequence numbers. */
  const firsts = (got: string[], group: string) =>
    [...new Set(got.filter((g) => g.startsWith(`${group}:`)))].map((g) => Number(g.split(':')[1]))

  test('a group whose message is lost mid-batch sends no more of itself; the others go on; the retry keeps its order', async () => {
    // Three groups, ten messages each, interleaved; a:4 goes to the topic whose first PUBLISH is lost.
    const specs: Spec[] = []
    for (let seq = 0; seq < 10; seq++)
      for (const group of ['a', 'b', 'c']) specs.push({ group, seq, topic: group === 'a' && seq === 4 ? LOST : `orders/${group}` })
    const ev = event('T', specs)
    const lanes = ['orders/a', 'orders/b', 'orders/c', LOST]

    const first = await bridge.handle(ev, fcContext('req-ordered-1')).then(
      () => undefined,
      (err: unknown) => err,
    )
    assert.ok(first instanceof DeliveryError, `the first attempt must fail: ${String(first)}`)
    assert.equal(proxy.dropped, 1)
    assert.match(first.message, /6 of 30/)
    assert.match(first.message, /no acknowledgement from the MQTT broker/)
    const before = await received('T', lanes)
    // Nothing of group a after the lost message reached the subscriber: it was never written.
    assert.deepEqual(firsts(before, 'a'), [0, 1, 2, 3])
    assert.deepEqual(firsts(before, 'b'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepEqual(firsts(before, 'c'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

    // Function Compute retries the same event; this instance skips what it delivered.
    const retry = await bridge.handle(ev, fcContext('req-ordered-2'))
    assert.deepEqual([retry.published, retry.duplicates, retry.failed], [6, 24, 0])
    const after = await received('T', lanes)
    assert.deepEqual(firsts(after, 'a'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.equal(after.length, 30, 'each message once: the lost one never reached the broker')
  })

  test('groups sharing one topic: the group whose first message is lost stops; the others, on the same topic, are not held up; the retry keeps its order', async () => {
    // The default mapping: every group on the rule's one target topic. The proxy loses the first PUBLISH
    // to it, a:0: the order per topic gives way, so b and c go past the group that waits.
    const SHARED = 'orders/shared'
    const specs: Spec[] = []
    for (let seq = 0; seq < 10; seq++) for (const group of ['a', 'b', 'c']) specs.push({ group, seq, topic: SHARED })
    const ev = event('S', specs)
    const dropped = proxy.dropped
    dropTopic = SHARED

    const first = await bridge.handle(ev, fcContext('req-shared-1')).then(
      () => undefined,
      (err: unknown) => err,
    )
    assert.ok(first instanceof DeliveryError, `the first attempt must fail: ${String(first)}`)
    assert.equal(proxy.dropped, dropped + 1)
    assert.match(first.message, /^10 of 30 /, 'only group a failed')
    const before = await received('S', [SHARED])
    assert.deepEqual(firsts(before, 'a'), [])
    assert.deepEqual(firsts(before, 'b'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepEqual(firsts(before, 'c'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

    const retry = await bridge.handle(ev, fcContext('req-shared-2'))
    assert.deepEqual([retry.published, retry.duplicates, retry.failed], [10, 20, 0])
    const after = await received('S', [SHARED])
    assert.deepEqual(firsts(after, 'a'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.equal(after.length, 30)
  })

  test('a message the broker refuses is a dead letter; the rest of its group is delivered in order, and the batch succeeds', async () => {
    const specs: Spec[] = [0, 1, 2, 3, 4].map((seq) => ({ group: 'd', seq, topic: seq === 2 ? DENIED : 'orders/d' }))
    const summary = await bridge.handle(event('D', specs), fcContext('req-ordered-acl'))
    assert.deepEqual([summary.published, summary.deadLettered, summary.failed], [4, 1, 0])
    const got = await received('D', ['orders/d'])
    assert.deepEqual(firsts(got, 'd'), [0, 1, 3, 4])
    const stored = await readDeadLetters(deadLetters)
    const letter = stored.find((d) => d.messageId === 'D-d-2')
    assert.ok(letter, 'the refused message is a dead letter')
    assert.match(letter.reason, /Not authorized/)
  })
})
