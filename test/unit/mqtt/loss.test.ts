// A lost connection: what it says about the messages written, and the reasons verdicts give.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { brokerTroubleReason, describeLoss, lossOf, meaningOf, poisonReason } from '../../../shared/mqtt/loss.js'
import { DISCONNECT_ABOUT_THE_PACKET, DISCONNECT_BROKERS_OWN, REASON_NAMES, reasonName } from '../../../shared/mqtt/reason-codes.js'

const URL = 'mqtt://broker.test:1883'
const coded = (message: string, code?: number | string) => Object.assign(new Error(message), code === undefined ? {} : { code })

describe('reason codes (MQTT 5 §2.4)', () => {
  test('every code of the table is named, 0x8E included', () => {
    const codes = [
      0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d,
      0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
    ]
    assert.deepEqual(Object.keys(REASON_NAMES).map(Number), codes)
    assert.equal(reasonName(0x8e), '0x8e (Session taken over)')
    assert.equal(reasonName(0x00), '0x00 (Success)')
    assert.equal(reasonName(0x7f), '0x7f (not a reason code of MQTT 5)')
  })

  test("no code is both about the packet and the broker's own", () => {
    for (const code of DISCONNECT_ABOUT_THE_PACKET) assert.equal(DISCONNECT_BROKERS_OWN.has(code), false, reasonName(code))
  })
})

describe('what a lost connection says', () => {
  test("the broker's own reasons blame nothing written: takeover, shutting down, busy, quota, rate, another server", () => {
    for (const code of [0x00, 0x89, 0x8b, 0x8d, 0x8e, 0x93, 0x96, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0])
      assert.equal(meaningOf({ kind: 'closed', disconnect: { code } }), 'brokers-own', reasonName(code))
  })

  test('a DISCONNECT about the packet names the message alone in flight: malformed, not authorized, too large, payload, retain, QoS', () => {
    for (const code of [0x81, 0x82, 0x83, 0x87, 0x90, 0x94, 0x95, 0x99, 0x9a, 0x9b])
      assert.equal(meaningOf({ kind: 'closed', disconnect: { code } }), 'names-the-packet', reasonName(code))
  })

  test('a close without a reason, a reset, 0x80 and an unreadable packet need evidence; a keepalive timeout is silence', () => {
    assert.equal(meaningOf({ kind: 'closed' }), 'unexplained')
    assert.equal(meaningOf({ kind: 'closed', socketError: 'ECONNRESET' }), 'unexplained')
    assert.equal(meaningOf({ kind: 'closed', disconnect: { code: 0x80 } }), 'unexplained')
    assert.equal(meaningOf({ kind: 'error', message: 'Invalid puback reason code' }), 'unexplained')
    assert.equal(meaningOf({ kind: 'error', message: 'Keepalive timeout' }), 'silent')
  })

  test('MQTT.js errors: socket errors are closes, the rest errors', () => {
    assert.deepEqual(lossOf(coded('read ECONNRESET', 'ECONNRESET')), { kind: 'closed', socketError: 'ECONNRESET' })
    assert.deepEqual(lossOf(coded('Invalid pubrec reason code')), { kind: 'error', message: 'Invalid pubrec reason code' })
  })

  test("losses in words, with the broker's reason string", () => {
    assert.equal(describeLoss({ kind: 'closed', disconnect: { code: 0x95 } }), 'DISCONNECT reason code 0x95 (Packet too large)')
    assert.equal(
      describeLoss({ kind: 'closed', disconnect: { code: 0x8e, reasonString: 'another client connected' } }),
      'DISCONNECT reason code 0x8e (Session taken over): "another client connected"',
    )
    assert.equal(describeLoss({ kind: 'closed' }), 'closed without a DISCONNECT reason')
    assert.equal(describeLoss({ kind: 'closed', socketError: 'EPIPE' }), 'connection reset (EPIPE)')
    assert.match(describeLoss({ kind: 'error', message: 'Invalid pubrec reason code' }), /cannot read, such as 0x95 "Packet too large"/)
  })
})

describe('the reasons of verdicts', () => {
  test('named by the broker: its DISCONNECT and the size', () => {
    assert.equal(
      poisonReason({ kind: 'named', loss: { kind: 'closed', disconnect: { code: 0x95 } } }, URL, 2031),
      `the MQTT broker at ${URL} closed the connection with DISCONNECT reason code 0x95 (Packet too large) while this message alone was unacknowledged; its PUBLISH packet is 2031 bytes`,
    )
  })

  test('singled out by its neighbours: each loss, which neighbours were acknowledged, and the size with the setting that would catch it', () => {
    assert.equal(
      poisonReason(
        { kind: 'neighbours', losses: [{ kind: 'closed' }, { kind: 'closed', socketError: 'ECONNRESET' }], before: true, after: true },
        URL,
        2031,
      ),
      `the MQTT broker at ${URL} closed the connection each time this message was sent alone, 2 times (closed without a DISCONNECT reason; connection reset (ECONNRESET)), ` +
        'while the messages written before and after it were acknowledged; its PUBLISH packet is 2031 bytes (if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit)',
    )
    assert.match(
      poisonReason(
        { kind: 'neighbours', losses: [{ kind: 'error', message: 'x' }, { kind: 'closed' }], before: false, after: true },
        URL,
        10,
      ),
      /^the connection to the MQTT broker at .* failed each time this message was sent alone, 2 times .*, while the message written after it was acknowledged;/,
    )
    assert.match(
      poisonReason({ kind: 'neighbours', losses: [{ kind: 'closed' }, { kind: 'closed' }], before: true, after: false }, URL, 10),
      /, while the message written before it was acknowledged;/,
    )
  })

  test("the broker's trouble: why, and that the invocation is retried", () => {
    assert.equal(
      brokerTroubleReason('it closed the connection for its own reason (DISCONNECT reason code 0x8e (Session taken over))', URL),
      `the connection to the MQTT broker at ${URL} was lost before it acknowledged: it closed the connection for its own reason (DISCONNECT reason code 0x8e (Session taken over)); ` +
        "the broker's trouble, not this message's, so the invocation is retried",
    )
  })
})
