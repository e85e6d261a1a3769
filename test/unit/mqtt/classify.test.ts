import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MqttConnectionError, ProtocolRefusedError } from '../../../shared/errors.js'
import {
  blames,
  closedBeforeConnack,
  connectError,
  describeLoss,
  lossOf,
  poisonReason,
  publishError,
  TRANSIENT_PUBLISH_CODES,
} from '../../../shared/mqtt/classify.js'

const URL = 'mqtt://broker.test:1883'
const coded = (message: string, code?: number | string) => Object.assign(new Error(message), code === undefined ? {} : { code })

describe('classify: PUBACK/PUBREC reason codes', () => {
  test('a code >= 0x80 that is not transient is refused (a dead letter), with the code in the reason', () => {
    for (const code of [0x83, 0x87, 0x90, 0x91, 0x93, 0x95, 0x99]) {
      const o = publishError(coded('Publish error', code), URL)
      assert.equal(o.kind, 'refused', `0x${code.toString(16)}`)
      assert.deepEqual(o, {
        kind: 'refused',
        code,
        reason: `the MQTT broker at ${URL} rejected the publish: Publish error (reason code 0x${code.toString(16)})`,
      })
    }
  })

  test('the transient codes (unspecified error, server busy, quota exceeded) fail, so the invocation is retried', () => {
    assert.deepEqual([...TRANSIENT_PUBLISH_CODES].sort(), [0x80, 0x89, 0x97])
    for (const code of TRANSIENT_PUBLISH_CODES) {
      const o = publishError(coded('Quota exceeded', code), URL)
      assert.equal(o.kind, 'failed', `0x${code.toString(16)}`)
      assert.match(o.kind === 'failed' ? o.reason : '', new RegExp(`\\(reason code 0x${code.toString(16)}\\)$`))
    }
  })

  test('no numeric code, or a code below 0x80, fails (transient)', () => {
    assert.deepEqual(publishError(coded('Connection closed'), URL), {
      kind: 'failed',
      reason: `the MQTT broker at ${URL} rejected the publish: Connection closed`,
    })
    assert.equal(publishError(coded('odd', 0x10), URL).kind, 'failed')
    assert.equal(publishError(coded('string code', 'ECONNRESET'), URL).kind, 'failed')
  })
})

describe('classify: connect errors', () => {
  test('"unacceptable protocol version" on MQTT 5 means: try 3.1.1', () => {
    for (const code of [1, 0x84]) {
      const err = connectError(coded('Connection refused: Unsupported protocol version', code), 5, URL)
      assert.ok(err instanceof ProtocolRefusedError)
      assert.equal(err.code, code)
      assert.match(err.message, /does not accept MQTT 5/)
    }
    // On 3.1.1 there is nothing to fall back to.
    assert.ok(!(connectError(coded('Unsupported protocol version', 1), 4, URL) instanceof ProtocolRefusedError))
  })

  test('other refusals, TLS trust, unreachable and anything else are named MqttConnectionErrors', () => {
    const refused = connectError(coded('Connection refused: Not authorized', 5), 5, URL)
    assert.ok(refused instanceof MqttConnectionError && !(refused instanceof ProtocolRefusedError))
    assert.equal(refused.message, `the MQTT broker at ${URL} refused the connection: Connection refused: Not authorized (code 5)`)
    const tls = connectError(coded('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), 5, URL)
    assert.match(tls.message, /TLS certificate .* is not trusted: .*SELF_SIGNED_CERT_IN_CHAIN.*set MQTT_CA_FILE/)
    assert.equal(
      connectError(coded('connect ECONNREFUSED', 'ECONNREFUSED'), 5, URL).message,
      `cannot reach the MQTT broker at ${URL}: ECONNREFUSED`,
    )
    assert.equal(connectError(coded('boom'), 4, URL).message, `MQTT connection to ${URL} failed: boom`)
  })

  test('a close before CONNACK is a protocol refusal only on MQTT 5 with auto', () => {
    assert.ok(closedBeforeConnack(5, true, URL) instanceof ProtocolRefusedError)
    assert.ok(!(closedBeforeConnack(5, false, URL) instanceof ProtocolRefusedError))
    assert.ok(!(closedBeforeConnack(4, true, URL) instanceof ProtocolRefusedError))
    assert.equal(closedBeforeConnack(4, true, URL).message, `the MQTT broker at ${URL} closed the connection before CONNACK`)
  })

  test('MQTT_PROTOCOL_VERSION=5 closed before CONNACK: the broker may not speak MQTT 5, and the message says what to set', () => {
    assert.equal(
      closedBeforeConnack(5, false, URL).message,
      `the MQTT broker at ${URL} closed the connection before CONNACK; it may not speak MQTT 5: ` +
        'set MQTT_PROTOCOL_VERSION=auto (MQTT 5, falling back to 3.1.1) or MQTT_PROTOCOL_VERSION=4',
    )
  })
})

describe('classify: lost connections', () => {
  test('which losses may blame the one message in flight', () => {
    assert.equal(blames({ kind: 'closed' }), true, 'a close without a reason (MQTT 3.1.1)')
    assert.equal(blames({ kind: 'closed', socketError: 'ECONNRESET' }), true)
    for (const code of [0x81, 0x82, 0x83, 0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b])
      assert.equal(blames({ kind: 'closed', disconnect: { code } }), true)
    for (const code of [0x00, 0x80, 0x89, 0x8b, 0x8d, 0x8e, 0x96, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0])
      assert.equal(blames({ kind: 'closed', disconnect: { code } }), false, `0x${code.toString(16)}`)
    assert.equal(blames({ kind: 'error', message: 'Invalid puback reason code' }), true)
    assert.equal(blames({ kind: 'error', message: 'Keepalive timeout' }), false)
  })

  test('MQTT.js errors: socket errors are closes, the rest errors', () => {
    assert.deepEqual(lossOf(coded('read ECONNRESET', 'ECONNRESET')), { kind: 'closed', socketError: 'ECONNRESET' })
    assert.deepEqual(lossOf(coded('Invalid pubrec reason code')), { kind: 'error', message: 'Invalid pubrec reason code' })
  })

  test('losses in words', () => {
    assert.equal(describeLoss({ kind: 'closed', disconnect: { code: 0x95 } }), 'DISCONNECT reason code 0x95 (Packet too large)')
    assert.equal(
      describeLoss({ kind: 'closed', disconnect: { code: 0x81, reasonString: 'bad' } }),
      'DISCONNECT reason code 0x81 (Malformed Packet): "bad"',
    )
    assert.equal(describeLoss({ kind: 'closed' }), 'closed without a DISCONNECT reason')
    assert.equal(describeLoss({ kind: 'closed', socketError: 'EPIPE' }), 'connection reset (EPIPE)')
    assert.match(describeLoss({ kind: 'error', message: 'Invalid pubrec reason code' }), /cannot read, such as 0x95 "Packet too large"/)
  })

  test('the reason of an isolated poison message: what happened each time, and its size', () => {
    assert.equal(
      poisonReason(
        [
          { kind: 'closed', disconnect: { code: 0x95 } },
          { kind: 'closed', disconnect: { code: 0x95 } },
        ],
        URL,
        2031,
      ),
      `the MQTT broker at ${URL} closed the connection each time this message was sent, 2 times: DISCONNECT reason code 0x95 (Packet too large); its PUBLISH packet is 2031 bytes`,
    )
    assert.equal(
      poisonReason([{ kind: 'closed' }, { kind: 'closed', socketError: 'ECONNRESET' }], URL, 2031),
      `the MQTT broker at ${URL} closed the connection each time this message was sent, 2 times: closed without a DISCONNECT reason; connection reset (ECONNRESET); ` +
        'its PUBLISH packet is 2031 bytes (if the broker limits packet size, set MQTT_MAX_PACKET_SIZE to that limit)',
    )
    assert.match(
      poisonReason([{ kind: 'error', message: 'x' }, { kind: 'closed' }], URL, 10),
      /^the connection to the MQTT broker at .* failed each time/,
    )
  })
})
