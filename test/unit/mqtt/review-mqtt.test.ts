// Review findings on the MQTT publish path (branch review-mqtt): each test fails on the code it was written
// against and says what the right verdict is.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { publishes, windowPass } from './fakes.js'

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
