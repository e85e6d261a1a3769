// The delayed-ACK nudge on a fake clock: alone, then inside a pass of the publish window.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AckNudge, MAX_NUDGES_PER_STALL, NUDGE_QUIET_MS } from '../../../shared/mqtt/ack-nudge.js'
import { TokenBucket } from '../../../shared/mqtt/token-bucket.js'
import { FakeClock, publishes, windowPass } from './fakes.js'

function nudge(outstanding = true) {
  const clock = new FakeClock()
  const state = { outstanding, pings: 0 }
  const n = new AckNudge(
    clock,
    () => {
      state.pings++
      n.wrote()
    },
    () => state.outstanding,
  )
  return { clock, state, n }
}

describe('delayed-ACK nudge', () => {
  test('a packet arrives, nothing is written after it, an acknowledgement is owed: one PINGREQ, once the arrival is handled', () => {
    const { clock, state, n } = nudge()
    n.heard(true)
    assert.equal(state.pings, 0, 'not inside the arrival itself')
    clock.advance(0)
    assert.equal(state.pings, 1)
    clock.advance(1000)
    assert.equal(state.pings, 1, 'and nothing more while nothing else arrives')
  })

  test('a write after the arrival carries its ACK: no PINGREQ', () => {
    const { clock, state, n } = nudge()
    n.heard(true)
    n.wrote()
    clock.advance(1000)
    assert.equal(state.pings, 0)
  })

  test('nothing outstanding: no PINGREQ, whatever arrives', () => {
    const { clock, state, n } = nudge(false)
    for (let i = 0; i < 10; i++) {
      n.heard(i % 2 === 0)
      clock.advance(5)
    }
    assert.equal(state.pings, 0)
  })

  test(`at most ${MAX_NUDGES_PER_STALL} PINGREQs between two acknowledgements, the later ones after ${NUDGE_QUIET_MS} ms of silence`, () => {
    const { clock, state, n } = nudge()
    n.heard(true)
    clock.advance(0)
    assert.equal(state.pings, 1)
    // Its PINGRESP arrives, and still no acknowledgement: the next one waits for the silence.
    n.heard(false)
    clock.advance(0)
    assert.equal(state.pings, 1)
    clock.advance(NUDGE_QUIET_MS)
    assert.equal(state.pings, 2)
    for (let i = 0; i < 20; i++) {
      n.heard(false)
      clock.advance(NUDGE_QUIET_MS * 3)
    }
    assert.equal(state.pings, MAX_NUDGES_PER_STALL, 'a broker that answers PINGREQs but nothing else gets no more')
    // An acknowledgement ends the stall; the next one may be nudged again.
    n.heard(true)
    clock.advance(0)
    assert.equal(state.pings, MAX_NUDGES_PER_STALL + 1)
  })

  test('the silence counts from the last arrival', () => {
    const { clock, state, n } = nudge()
    n.heard(true)
    clock.advance(0)
    n.heard(false)
    clock.advance(NUDGE_QUIET_MS / 2)
    n.heard(false)
    clock.advance(NUDGE_QUIET_MS / 2)
    assert.equal(state.pings, 1, 'half the silence since the last arrival')
    clock.advance(NUDGE_QUIET_MS / 2)
    assert.equal(state.pings, 2)
  })

  test('stop() clears its timers and ends it', () => {
    const { clock, state, n } = nudge()
    n.heard(true)
    n.stop()
    assert.equal(clock.pending, 0)
    n.heard(true)
    clock.advance(100)
    assert.equal(state.pings, 0)
  })
})

describe('delayed-ACK nudge in the publish window', () => {
  const pass = (count: number, qos: 0 | 1 = 1) => windowPass(publishes(count, { qos }))

  test('the batch all written, an acknowledgement arrives and others are owed: one PINGREQ releases them', async () => {
    const { clock, client, done } = pass(3)
    client.ack()
    clock.advance(0)
    assert.equal(client.pings, 1)
    client.ackAll()
    await done
    assert.equal(clock.pending, 0)
  })

  test('the window full, each acknowledgement lets a publish out: that write carries the ACK, no PINGREQ', async () => {
    const { clock, client, done } = pass(60)
    while (client.sent.length < 60) {
      client.ack()
      clock.advance(0)
    }
    assert.equal(client.pings, 0)
    client.ackAll()
    await done
  })

  test('nothing is written once the last acknowledgement is in, while the pass goes on (paced by the rate limit)', async () => {
    // The pass outlives its acknowledgements: the next message waits for a token. Only "nothing outstanding"
    // keeps the nudge quiet here, not the end of the pass.
    const clock = new FakeClock()
    const { client, done, result } = windowPass(publishes(3), 'manual', { clock, bucket: new TokenBucket(10) })
    for (let i = 0; i < 3; i++) {
      assert.equal(client.unacked.length, 1)
      client.ack()
      clock.advance(0)
      clock.advance(NUDGE_QUIET_MS * 10)
      assert.equal(client.pings, 0, `a PINGREQ after acknowledgement ${i + 1}, with nothing owed`)
      if (i < 2) assert.equal(result(), undefined, 'the pass is still running')
      clock.advance(100)
    }
    await done
    clock.advance(1000)
    assert.equal(client.pings, 0)
  })
})
