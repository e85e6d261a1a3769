import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { registerSecret } from '../../../shared/logging/secrets.js'
import type { Publish } from '../../../shared/mapping/publish.js'
import { DELIVERED, EXPIRED, type PublishOutcome } from '../../../shared/mqtt/outcome.js'
import { topicHash } from '../../../shared/mqtt/pool.js'
import { ACCEPTANCE_EVIDENCE_MS, AcceptanceEvidence, acceptedIn, judgeWideRefusals } from '../../../shared/mqtt/wide-refusals.js'
import { type FakeClient, FakeClock, fakePool, kinds, publishes, reasonOf, settle, windowPass } from './fakes.js'

const refused = (code: number | undefined): PublishOutcome => ({
  kind: 'refused',
  reason: `the MQTT broker at mqtt://broker.test:1883 rejected the publish: Publish error (reason code 0x${code?.toString(16)})`,
  ...(code !== undefined ? { code } : {}),
})

/** A topic that the FNV-1a affinity puts on connection `member` of `size`. */
function topicOn(member: number, size: number, tag: string): string {
  for (let i = 0; ; i++) {
    const topic = `devices/${tag}/t${i}`
    if (topicHash(topic) % size === member) return topic
  }
}

describe('wide refusals: the rule itself', () => {
  test('with evidence nothing changes; without it 0x87 and 0x83 fail as transient, the codes about the message stay refused', () => {
    const items = publishes(7, { topics: 7 })
    const before = [refused(0x87), refused(0x83), refused(0x90), refused(0x95), refused(0x99), refused(0x9a), refused(0x9b)]
    const withEvidence = [...before]
    assert.equal(judgeWideRefusals(items, withEvidence, undefined, true), undefined)
    assert.deepEqual(withEvidence, before)

    const outcomes = [...before]
    const verdict = judgeWideRefusals(items, outcomes, undefined, false)
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failed', 'failed', 'refused', 'refused', 'refused', 'refused', 'refused'],
    )
    assert.deepEqual(outcomes.slice(2), before.slice(2))
    assert.match(
      reasonOf(outcomes[0]),
      /^the MQTT broker at .* rejected the publish: Publish error \(reason code 0x87\); nothing singles this message out/,
    )
    assert.match(
      reasonOf(outcomes[0]),
      /the last 10 minutes.*check the broker's ACL \/ authorization for the bridge's user on the rules' parent topics\); the invocation is retried$/,
    )
    assert.equal(verdict?.failed, 2)
    assert.match(verdict!.why, /0x87 \(Not authorized\) and 0x83 \(Implementation specific error\)/)
    assert.match(verdict!.why, /nothing singles a message out \(check the broker's ACL/)
  })

  test('a refusal without a code (refused unwritten, a size) is never converted', () => {
    const outcomes = [refused(undefined)]
    assert.equal(judgeWideRefusals(publishes(1), outcomes, undefined, false), undefined)
    assert.equal(outcomes[0]!.kind, 'refused')
  })

  test('evidence is a QoS 1 or 2 message delivered; a QoS 0 one proves nothing', () => {
    const q0 = publishes(2, { qos: 0 })
    const q1 = publishes(2, { qos: 1 })
    assert.equal(acceptedIn(q0, [DELIVERED, refused(0x87)]), false)
    assert.equal(acceptedIn(q1, [DELIVERED, refused(0x87)]), true)
    assert.equal(acceptedIn(q1, [EXPIRED, refused(0x87)]), false)
    assert.equal(acceptedIn([{ ...q1[0]!, qos: 2 }], [DELIVERED]), true)
  })

  test('order: a later QoS 0 message of its topic reported delivered fails with it; earlier ones, other topics, other outcomes and grouped messages keep theirs', () => {
    // 0..3 on topic x; 4 on topic y; 5..6 grouped (judged as their refusal came, never after the call).
    const items: Publish[] = publishes(7).map((p, i) => ({ ...p, topic: i === 4 ? 'devices/y' : 'devices/x', qos: i === 1 ? 1 : 0 }))
    const groups = [undefined, undefined, undefined, undefined, undefined, 'A', 'A']
    const outcomes: PublishOutcome[] = [DELIVERED, refused(0x87), DELIVERED, EXPIRED, DELIVERED, refused(0x87), DELIVERED]
    assert.equal(acceptedIn(items, outcomes), false)
    const verdict = judgeWideRefusals(items, outcomes, groups, false)
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['delivered', 'failed', 'failed', 'expired', 'delivered', 'refused', 'delivered'],
    )
    assert.match(
      reasonOf(outcomes[2]),
      /^not counted as delivered: an earlier message of its topic was refused with 0x87 \(Not authorized\), which nothing singles out, and is retried; .*keeps its order \(a QoS 0 message may arrive twice\)$/,
    )
    assert.equal(verdict?.failed, 2)
  })

  test('a grouped refusal judged as it came is counted for the log line even when evidence came later in the call', () => {
    const outcomes: PublishOutcome[] = [{ kind: 'failed', reason: 'judged as it came', code: 0x87 }, DELIVERED]
    const verdict = judgeWideRefusals(publishes(2), outcomes, ['A', 'B'], true)
    assert.deepEqual(outcomes[1], DELIVERED)
    assert.equal(verdict?.failed, 1)
    assert.match(verdict!.why, /^the broker refused publishes with 0x87 \(Not authorized\) before anything showed/)
  })
})

describe('wide refusals: a message group, judged as the refusal comes (the window)', () => {
  const groupPass = (acceptance: AcceptanceEvidence) => {
    const items = publishes(3).map((p, i) => ({ ...p, payload: Buffer.from(['A0', 'A1', 'B2'][i]!), qos: (i === 1 ? 0 : 1) as 0 | 1 }))
    return windowPass(items, 'manual', { groups: { of: ['A', 'A', 'B'], broken: new Map() }, acceptance })
  }

  test('without evidence so far, 0x87 stops its group at once: the later QoS 0 message is never written; a later acceptance does not undo it', async () => {
    const p = groupPass(new AcceptanceEvidence(new FakeClock()))
    assert.deepEqual(p.written(), ['A0', 'B2'])
    p.client.refuse(p.find('A0')!, 0x87, 'Publish error: Not authorized')
    p.client.ack(p.find('B2'))
    await p.done
    assert.deepEqual(p.written(), ['A0', 'B2'], 'A1 is never written')
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['failed', 'failed', 'delivered'],
    )
    assert.match(reasonOf(p.outcomes[0]), /reason code 0x87\).*nothing singles this message out.*its message group stops here/)
    assert.match(reasonOf(p.outcomes[1]), /^not sent: an earlier message of its message group was not delivered/)
  })

  test('with evidence (an acceptance within 10 minutes), 0x87 is a dead letter and the group goes on', async () => {
    const clock = new FakeClock()
    const acceptance = new AcceptanceEvidence(clock)
    acceptance.accepted()
    const p = groupPass(acceptance)
    p.client.refuse(p.find('A0')!, 0x87, 'Publish error: Not authorized')
    p.client.ack(p.find('B2'))
    p.client.ack(p.find('A1'))
    p.client.sendPing()
    p.client.pong()
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['refused', 'delivered', 'delivered'],
    )
  })

  test("the window's own acceptance is evidence for the next refusal: B's delivery before A's 0x87 lets A's group go on", async () => {
    const p = groupPass(new AcceptanceEvidence(new FakeClock()))
    p.client.ack(p.find('B2'))
    p.client.refuse(p.find('A0')!, 0x87, 'Publish error: Not authorized')
    assert.deepEqual(p.written(), ['A0', 'B2', 'A1'])
    p.client.ack(p.find('A1'))
    p.client.sendPing()
    p.client.pong()
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['refused', 'delivered', 'delivered'],
    )
  })
})

describe('wide refusals: the pool', () => {
  /** Answers every publish of `client` with `code` (or acknowledges it, without) until `call` settles. */
  async function answer<T>(clients: () => FakeClient[], call: Promise<T>, code: (payload: string) => number | undefined): Promise<T> {
    let done = false
    call.finally(() => {
      done = true
    })
    while (!done) {
      await settle()
      for (const c of clients()) {
        // PINGRESPs too: they confirm QoS 0 messages, and a connection idle past its keepalive pings first.
        c.pong()
        for (const s of c.unacked) {
          const k = code(s.payload)
          if (k === undefined) c.ack(s)
          else c.refuse(s, k, 'Publish error: Not authorized', 'denied by ACL secret-token-xyz')
        }
      }
    }
    return call
  }

  test('every message refused 0x87 with nothing accepted: all fail as transient, with one mqtt.broker-trouble line and no secret', async () => {
    registerSecret('secret-token-xyz')
    const { broker, pool, log, deadline } = fakePool({}, { protocol: 5 })
    const r = await answer(
      () => broker.clients,
      pool.publish(publishes(6, { topics: 3 }), deadline(), log),
      () => 0x87,
    )
    assert.deepEqual(kinds(r), new Array(6).fill('failed'))
    assert.match(reasonOf(r.outcomes[0]), /reason code 0x87.*nothing singles this message out/)
    const lines = log.events('mqtt.broker-trouble')
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!['verdict'], 'transient')
    assert.equal(lines[0]!['failed'], 6)
    assert.match(String(lines[0]!['why']), /0x87 \(Not authorized\)/)
    assert.doesNotMatch(JSON.stringify([log.lines, r.outcomes]), /secret-token-xyz/)
  })

  test('a QoS 1 message delivered on another connection in the same call is evidence: the refusals stand', async () => {
    const { broker, pool, log, deadline } = fakePool({}, { protocol: 5, size: 2 })
    const denied = topicOn(0, 2, 'denied')
    const allowed = topicOn(1, 2, 'allowed')
    const items = publishes(4).map((p, i) => ({ ...p, topic: i < 3 ? denied : allowed }))
    const r = await answer(
      () => broker.clients,
      pool.publish(items, deadline(), log),
      (p) => (p === 'm-3' ? undefined : 0x87),
    )
    assert.deepEqual(kinds(r), ['refused', 'refused', 'refused', 'delivered'])
    assert.equal(log.events('mqtt.broker-trouble').length, 0)
  })

  test('a QoS 0 message delivered in the same call is no evidence', async () => {
    const { broker, pool, log, deadline } = fakePool({}, { protocol: 5 })
    const items = [...publishes(2), { ...publishes(1, { tag: 'q0', qos: 0 })[0]! }]
    const r = await answer(
      () => broker.clients,
      pool.publish(items, deadline(), log),
      (p) => (p.startsWith('q0') ? undefined : 0x87),
    )
    assert.deepEqual(kinds(r), ['failed', 'failed', 'delivered'])
  })

  test('history: a QoS 1 delivery by this pool is evidence for 10 minutes on its clock, then lapses', async () => {
    const { clock, broker, pool, log, deadline } = fakePool({}, { protocol: 5 })
    const ok = await answer(
      () => broker.clients,
      pool.publish(publishes(1, { tag: 'ok' }), deadline(), log),
      () => undefined,
    )
    assert.deepEqual(kinds(ok), ['delivered'])

    clock.advance(ACCEPTANCE_EVIDENCE_MS - 1)
    const within = await answer(
      () => broker.clients,
      pool.publish(publishes(3, { tag: 'd1' }), deadline(), log),
      () => 0x87,
    )
    assert.deepEqual(kinds(within), ['refused', 'refused', 'refused'])
    assert.equal(log.events('mqtt.broker-trouble').length, 0)

    // A refusal is not evidence: the last acceptance is still the one 10 minutes ago.
    clock.advance(1)
    const lapsed = await answer(
      () => broker.clients,
      pool.publish(publishes(3, { tag: 'd2' }), deadline(), log),
      () => 0x87,
    )
    assert.deepEqual(kinds(lapsed), ['failed', 'failed', 'failed'])
    assert.equal(log.events('mqtt.broker-trouble').length, 1)
  })

  test('ordered: every message of a group refused 0x87, nothing accepted: the first fails and stops its group, nothing later is written', async () => {
    const { broker, pool, log, deadline } = fakePool({}, { protocol: 5 })
    const r = await answer(
      () => broker.clients,
      pool.publish(publishes(4), deadline(), log, new Array(4).fill('r\u0000A')),
      () => 0x87,
    )
    assert.deepEqual(kinds(r), ['failed', 'failed', 'failed', 'failed'])
    assert.deepEqual(
      broker.clients.flatMap((c) => c.sent.map((s) => s.payload)),
      ['m-0'],
    )
    assert.match(reasonOf(r.outcomes[3]), /^not sent: an earlier message of its message group was not delivered/)
    const lines = log.events('mqtt.broker-trouble')
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!['failed'], 1, 'the refusal judged as it came; the rest of its group were never sent')
  })

  test('ordered: a DISCONNECT 0x87 naming a grouped message alone, nothing accepted: it fails and its group stops', async () => {
    const { pool, log, deadline } = fakePool({ ackMode: 'async', drops: () => ({ disconnect: 0x87 }) }, { protocol: 5 })
    const r = await pool.publish(publishes(3), deadline(), log, ['r\u0000A', 'r\u0000A', 'r\u0000A'])
    assert.deepEqual(kinds(r), ['failed', 'failed', 'failed'])
    assert.match(reasonOf(r.outcomes[0]), /DISCONNECT reason code 0x87 .*its message group stops here/)
    assert.match(reasonOf(r.outcomes[2]), /^not sent: an earlier message of its message group/)
    assert.equal(log.events('mqtt.broker-trouble').length, 1)
  })

  test('a DISCONNECT 0x87 naming each message alone is judged the same way: nothing accepted, all transient', async () => {
    const { pool, log, deadline } = fakePool({ ackMode: 'async', drops: () => ({ disconnect: 0x87 }) }, { protocol: 5 })
    const r = await pool.publish(publishes(3, { topics: 3 }), deadline(), log)
    assert.deepEqual(kinds(r), ['failed', 'failed', 'failed'])
    assert.match(
      reasonOf(r.outcomes[0]),
      /DISCONNECT reason code 0x87 \(Not authorized\) while this message alone was unacknowledged.*nothing singles this message out/,
    )
    assert.equal(log.events('mqtt.broker-trouble').length, 1)
  })
})
