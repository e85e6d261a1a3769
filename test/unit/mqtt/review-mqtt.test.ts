// Review findings on the MQTT publish path (branch review-mqtt): each test fails on the code it was written
// against and says what the right verdict is.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Isolation } from '../../../shared/mqtt/isolation.js'
import type { PassResult } from '../../../shared/mqtt/outcome.js'
import { FakeClock, fakePool, kinds, publishes, windowPass } from './fakes.js'

/** A fake clock that jumps an hour ahead once it has been read far more often than any pass needs: a runaway loop that only reads the clock ends instead of hanging the test. */
class RunawayClock extends FakeClock {
  reads = 0
  override now(): number {
    this.reads++
    return super.now() + (this.reads > 200_000 ? 3_600_000 : 0)
  }
}

const pass = (over: Partial<PassResult>): PassResult => ({
  unconfirmed: [],
  unsent: [],
  settled: 0,
  acknowledged: 0,
  dropped: 0,
  downgraded: 0,
  broken: false,
  ...over,
})

describe('review: the probe of poison isolation is a QoS 0 message', () => {
  test('Isolation: a probe that went through without a PUBACK (QoS 0 confirmed by PINGRESP) still decides', () => {
    // m-0 QoS 1 topic a (acknowledged), m-1 QoS 1 topic a (poison), m-2 QoS 0 topic b (the probe).
    const keys = ['t1a', 't1a', 't0b']
    const plan = new Isolation(3, (i) => keys[i]!)
    const lost = { kind: 'closed' as const }
    plan.record({ indices: [0, 1, 2], alone: false }, pass({ loss: lost, acknowledged: 1, settled: 1, unconfirmed: [1, 2], broken: true }))
    plan.record({ indices: [1], alone: true }, pass({ loss: lost, unconfirmed: [1], broken: true }))
    plan.record({ indices: [1], alone: true }, pass({ loss: lost, unconfirmed: [1], broken: true }))
    assert.deepEqual(plan.next(), { indices: [2], alone: true }, 'the QoS 0 message of another topic probes')
    // The probe is written and confirmed by the PINGRESP: no loss, no acknowledgement (QoS 0 has none).
    const verdict = plan.record({ indices: [2], alone: true }, pass({ settled: 1 }))
    assert.ok(
      verdict.poison !== undefined || verdict.transient !== undefined || plan.done,
      `a probe that went through must decide, or the plan must be done; got verdict ${JSON.stringify(verdict)}, done=${plan.done}, next=${JSON.stringify(plan.next())}`,
    )
  })

  test('pool: the poison message is refused, not left to spin until the deadline and fail as transient', async () => {
    const clock = new RunawayClock()
    const items = publishes(3).map((p, i) => ({ ...p, topic: i === 2 ? 'devices/b' : 'devices/a', qos: (i === 2 ? 0 : 1) as 0 | 1 }))
    const { pool, log } = fakePool({ ackMode: 'async', poison: { payload: 'm-1' } }, { clock })
    const r = await pool.publish(items, clock.now() + 60_000, log)
    assert.deepEqual(kinds(r), ['delivered', 'refused', 'delivered'])
    assert.ok(clock.reads < 10_000, `the connection read the clock ${clock.reads} times: a loop that never yields`)
  })
})

describe('review: acknowledgement codes that are about the broker or the session, not the message', () => {
  test('PUBCOMP 0x92 (Packet Identifier not found) after a successful PUBREC: the broker took the message; it is not a dead letter', async () => {
    const p = windowPass(publishes(1, { qos: 2 }))
    p.client.refuse(p.client.sent[0]!, 0x92, 'Publish error: Packet Identifier not found')
    await p.done
    assert.notEqual(p.outcomes[0]!.kind, 'refused', JSON.stringify(p.outcomes[0]))
  })

  for (const code of [0x88, 0x8b, 0x8e, 0x98, 0x9c, 0x9d, 0x9f]) {
    test(`PUBACK 0x${code.toString(16)} (a broker's own reason, as the DISCONNECT table says): transient, not a dead letter`, async () => {
      const p = windowPass(publishes(1))
      p.client.refuse(p.client.sent[0]!, code)
      await p.done
      assert.equal(p.outcomes[0]!.kind, 'failed', JSON.stringify(p.outcomes[0]))
    })
  }
})

describe('review: per-topic order after a transient refusal (no ordered rule)', () => {
  test('PUBACK 0x97 on m-0: the messages of its topic written after the failure was known are not delivered ahead of its retry', async () => {
    // One topic, 40 QoS 1 messages, a window of 20: m-0 is answered 0x97 (quota exceeded: transient, retried).
    const p = windowPass(publishes(40))
    p.client.refuse(p.client.sent[0]!, 0x97, 'Publish error: Quota exceeded')
    const knownAt = p.client.sent.length
    while (p.result() === undefined && p.client.unacked.length > 0) {
      p.client.ack()
      await Promise.resolve()
    }
    await p.done
    const kindsAfter = p.outcomes.slice(knownAt).map((o) => o.kind)
    assert.equal(p.outcomes[0]!.kind, 'failed')
    // The retry publishes m-0 again; any later message of its topic delivered now reaches subscribers before it.
    assert.deepEqual(
      kindsAfter.filter((k) => k === 'delivered').length,
      0,
      `m-${knownAt}..m-39 were written after m-0 had failed, and were delivered: ${kindsAfter.join(',')}`,
    )
  })
})
