// The PUBLISH size the window checks against a broker's limit is the size mqtt-packet encodes, byte for byte.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import type { Publish } from '../../../shared/mapping/publish.js'
import { DEFAULT_MAX_PACKET_BYTES, MQTT_MAX_PACKET_BYTES, publishPacketBytes } from '../../../shared/mqtt/packet-size.js'

/** What MQTT.js hands mqtt-packet for this publish (client.js: publish), encoded. */
function encoded(p: Publish, v5: boolean): number {
  const packet = {
    cmd: 'publish' as const,
    topic: p.topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    dup: false,
    messageId: p.qos > 0 ? 65535 : 0,
    ...(v5 ? { properties: p.properties } : {}),
  }
  return mqttPacket.generate(packet as mqttPacket.IPublishPacket, { protocolVersion: v5 ? 5 : 4 }).length
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
)
const publish = fc.record({
  topic: text.filter((t) => t.length > 0 && t.isWellFormed()),
  qos: fc.constantFrom(0, 1, 2),
  retain: fc.boolean(),
  // Around each size where the remaining length gains a byte (128, 16,384, 2,097,152).
  payloadBytes: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 16_200, max: 16_500 }), fc.constantFrom(2_097_000, 2_097_200)),
  // An empty user-property map is left out by the mapping: mqtt-packet cannot encode one (it ends the stream).
  properties: fc.option(
    fc.record(
      {
        messageExpiryInterval: fc.integer({ min: 0, max: 65535 }),
        contentType: text.filter((t) => t.isWellFormed()),
        userProperties: fc.dictionary(
          text.filter((t) => t.isWellFormed()),
          fc.oneof(
            text.filter((t) => t.isWellFormed()),
            fc.array(
              text.filter((t) => t.isWellFormed()),
              { minLength: 1, maxLength: 3 },
            ),
          ),
          { minKeys: 1, maxKeys: 5 },
        ),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ),
})

describe('PUBLISH packet size', () => {
  test('equals the length mqtt-packet generates, on MQTT 5 and 3.1.1, for every shape (2,000 runs)', () => {
    fc.assert(
      fc.property(publish, fc.boolean(), (shape, v5) => {
        const p: Publish = {
          ruleId: 'r',
          index: 0,
          topic: shape.topic,
          qos: shape.qos as 0 | 1 | 2,
          retain: shape.retain,
          payload: Buffer.alloc(shape.payloadBytes, 0x61),
          ...(shape.properties ? { properties: shape.properties } : {}),
        }
        assert.equal(publishPacketBytes(p, v5), encoded(p, v5))
      }),
      { numRuns: 2000, seed: 20_240_512 },
    )
  })

  test('names on Object.prototype in a map with no prototype are counted like any other', () => {
    const userProperties = Object.assign(Object.create(null) as Record<string, string>, JSON.parse('{"__proto__":"a","toString":"b"}'))
    const p: Publish = {
      ruleId: 'r',
      index: 0,
      topic: 't',
      qos: 1,
      retain: false,
      payload: Buffer.from('x'),
      properties: { userProperties },
    }
    assert.equal(publishPacketBytes(p, true), encoded(p, true))
    assert.equal(publishPacketBytes(p, true) - publishPacketBytes(p, false), 1 + (1 + 2 + 9 + 2 + 1) + (1 + 2 + 8 + 2 + 1))
  })

  test('the defaults: what MQTT can encode (profile mqtt); 80 KiB for ApsaraMQ for MQTT (profile alibaba)', () => {
    assert.equal(MQTT_MAX_PACKET_BYTES, 268_435_460)
    assert.deepEqual(DEFAULT_MAX_PACKET_BYTES, { mqtt: 268_435_460, alibaba: 81_920 })
  })
})
