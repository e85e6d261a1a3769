import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MqttConnectionError, ProtocolRefusedError } from '../../../shared/errors.js'
import { closedBeforeConnack, connectError, POISON_PUBLISH_CODES, publishError } from '../../../shared/mqtt/failure-kind.js'

const URL = 'mqtt://broker.test:1883'
const coded = (message: string, code?: number | string) => Object.assign(new Error(message), code === undefined ? {} : { code })

describe('failure kind: PUBACK/PUBREC reason codes', () => {
  test('a code that singles the message out is refused (a dead letter), with the code in the reason', () => {
    assert.deepEqual([...POISON_PUBLISH_CODES].sort(), [0x83, 0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b])
    for (const code of [0x83, 0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b]) {
      const o = publishError(coded('Publish error', code), URL)
      assert.equal(o.kind, 'refused', `0x${code.toString(16)}`)
      assert.deepEqual(o, {
        kind: 'refused',
        code,
        reason: `the MQTT broker at ${URL} rejected the publish: Publish error (reason code 0x${code.toString(16)})`,
      })
    }
  })

  test("every other code (the broker's trouble, the session's, one outside §2.4) fails, so the invocation is retried", () => {
    const others = Array.from({ length: 0x80 }, (_, i) => 0x80 + i).filter((c) => !POISON_PUBLISH_CODES.has(c))
    for (const code of [0x80, 0x88, 0x89, 0x8b, 0x8e, 0x91, 0x92, 0x93, 0x96, 0x97, 0x98, 0x9c, 0x9d, 0x9f, 0xa0, 0xff])
      assert.ok(others.includes(code), `0x${code.toString(16)}`)
    for (const code of others) {
      const o = publishError(coded('Quota exceeded', code), URL)
      assert.equal(o.kind, 'failed', `0x${code.toString(16)}`)
      assert.match(o.kind === 'failed' ? o.reason : '', new RegExp(`\\(reason code 0x${code.toString(16)}\\)$`))
    }
  })

  test("the broker's reason string (MQTT 5) is kept in the reason, quoted", () => {
    assert.deepEqual(
      publishError(coded('Publish error: Not authorized', 0x87), URL, 'Publishing to this topic is forbidden by service policy'),
      {
        kind: 'refused',
        code: 0x87,
        reason: `the MQTT broker at ${URL} rejected the publish: Publish error: Not authorized (reason code 0x87): "Publishing to this topic is forbidden by service policy"`,
      },
    )
    assert.deepEqual(publishError(coded('Publish error: Quota exceeded', 0x97), URL, 'slow down'), {
      kind: 'failed',
      reason: `the MQTT broker at ${URL} rejected the publish: Publish error: Quota exceeded (reason code 0x97): "slow down"`,
    })
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

describe('failure kind: connect errors', () => {
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
