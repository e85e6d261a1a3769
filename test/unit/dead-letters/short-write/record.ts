import type { PoisonRecord } from '../../../../shared/dead-letters/record.js'

/** One dead letter of about 200 KB: more than the child's file-size limit lets it write. */
export const bigRecord: PoisonRecord = {
  kind: 'rocketmq-mqtt-bridge.poison',
  requestId: 'req-1',
  failedAt: '2024-01-01T00:00:00.000Z',
  messages: [{ index: 0, reason: 'payload too large', messageId: 'M1', event: { data: { topic: 't', body: 'x'.repeat(200_000) } } }],
}
