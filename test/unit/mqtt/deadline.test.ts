// Delivery deadlines in the publish window, on the fake clock: checked again just before each PUBLISH is
// written (a message may wait for the window, its group or the rate limit), and on MQTT 5 the expiry
// interval sent is at most the time left (docs/rules.md, "Delivery deadlines").
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TokenBucket } from '../../../shared/mqtt/token-bucket.js'
import { FakeClock, publishes, settle, windowPass } from './fakes.js'

describe('publish window: delivery deadlines', () => {
  test('on MQTT 5 the expiry interval is the time left, rounded up, or the producer’s own when shorter', async () => {
    const clock = new FakeClock()
    const items = publishes(3)
    items[0]!.expiresAt = clock.now() + 90_500
    items[1]!.expiresAt = clock.now() + 90_500
    items[1]!.properties = { messageExpiryInterval: 30 }
    items[2]!.properties = { messageExpiryInterval: 30 }
    const p = windowPass(items, 'sync', { clock })
    await p.done
    assert.deepEqual(
      p.client.sent.map((s) => s.opts.properties?.messageExpiryInterval),
      [91, 30, 30],
    )
    assert.ok(p.outcomes.every((o) => o.kind === 'delivered'))
    // The item itself is left as mapping made it: a retry computes the time left again.
    assert.equal(items[0]!.properties, undefined)
  })

  test('on MQTT 3.1.1 nothing is added, and nothing counted as dropped', async () => {
    const clock = new FakeClock()
    const items = publishes(1)
    items[0]!.expiresAt = clock.now() + 5000
    const p = windowPass(items, 'sync', { clock, v5: false })
    const r = await p.done
    assert.equal(p.client.sent[0]!.opts.properties, undefined)
    assert.equal(r.dropped, 0)
  })

  test('a message whose deadline passes while it waits for the rate limit is never written; the others are', async () => {
    const clock = new FakeClock()
    const items = publishes(3)
    // At 10 msg/s, the third waits 200 ms: by then it has less than a second left.
    items[2]!.expiresAt = clock.now() + 1100
    const p = windowPass(items, 'sync', { clock, bucket: new TokenBucket(10) })
    while (p.result() === undefined) {
      clock.advance(50)
      await settle(1)
    }
    assert.deepEqual(p.written(), ['m-0', 'm-1'])
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'delivered', 'expired'],
    )
  })

  test('a message that expires while its group waits for an acknowledgement is never written; its group goes on', async () => {
    const clock = new FakeClock()
    const items = publishes(3)
    items[1]!.expiresAt = clock.now() + 3000
    const p = windowPass(items, 'manual', { clock, groups: { of: ['g', 'g', 'g'], broken: new Map() } })
    assert.deepEqual(p.written(), ['m-0'])
    clock.advance(2500)
    p.client.ack()
    await settle(2)
    assert.deepEqual(p.written(), ['m-0', 'm-2'])
    p.client.ack()
    await p.done
    assert.deepEqual(
      p.outcomes.map((o) => o.kind),
      ['delivered', 'expired', 'delivered'],
    )
  })
})
