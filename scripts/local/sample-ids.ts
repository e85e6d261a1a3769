// The sample identifiers rules.yaml, examples/events.json and the docs ship with, which `npm run preflight`
// refuses to deploy; test/unit/cli/preflight.test.ts checks that the files and this list cannot drift.

export const SAMPLE_IDS = {
  /** source.instanceId: the 4.x instance of Alibaba's documented sample event, and a 5.x one in the console's form. */
  instanceIds: ['MQ_INST_1234567890123456_BXhFHryi', 'rmq-cn-jte3w5i0a01'],
  /** source.endpoint of the self-managed sample: a private address. */
  endpoints: ['10.0.0.8:9876'],
  /** source.groupId of the sample rules. */
  groupIds: ['GID_bridge_commands', 'GID_bridge_home', 'bridge-orders', 'bridge-warehouse', 'GID_bridge_firmware'],
  /** The broker host the docs show in MQTT_URL examples. */
  brokerHosts: ['post-cn-xxxx.mqtt.aliyuncs.com'],
} as const

export type SampleKind = 'instanceId' | 'endpoint' | 'groupId'

/** Whether a rule's source value is one of the samples. */
export function isSample(field: SampleKind, value: string | undefined): boolean {
  return value !== undefined && (SAMPLE_IDS[`${field}s`] as readonly string[]).includes(value)
}

/**
 * Why a value has the shape of a placeholder (a stand-in of the docs or consoles), or undefined. `words:
 * false` leaves out the words (example, sample…), for host names: example.com is where tests point on purpose.
 */
export function placeholderShape(field: string, value: string | undefined, words = true): string | undefined {
  if (value === undefined || value === '') return undefined
  const lower = value.toLowerCase()
  if (/xxx/i.test(value)) return 'has "xxx" in it, a stand-in'
  if (lower.includes('placeholder')) return 'says PLACEHOLDER'
  if (/(^|[^a-z])your[-_ ]?[a-z]/i.test(value)) return 'says "your…", a stand-in for your own value'
  if (/[<>{}…]|\.\.\./.test(value)) return 'has <…>, {…} or … in it, a stand-in'
  if (words && /(^|[^a-z])(example|changeme|todo|dummy|sample)([^a-z]|$)/i.test(value)) return 'says example, sample, changeme or todo'
  if (/123456789|987654321/.test(value)) return 'has a run of sequential digits (123456789), a stand-in for an ID'
  if (field === 'instanceId' && value.startsWith('MQ_INST_') && !/^MQ_INST_\d{16}_[A-Za-z0-9]{8}$/.test(value))
    return 'is not an instance ID as the RocketMQ console shows one (MQ_INST_<16-digit account ID>_<8 letters or digits>)'
  return undefined
}
