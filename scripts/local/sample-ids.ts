// The sample identifiers that rules.yaml, examples/events.json and the docs ship with, in one place: the
// local run uses them (they match the sample events), and `npm run preflight` refuses to deploy them (a
// trigger on a sample instance or group cannot work). test/unit/cli/preflight.test.ts checks that every
// source in rules.yaml and every instance in examples/events.json is listed here, so the two cannot drift.

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
  if (value === undefined) return false
  const list: readonly string[] =
    field === 'instanceId' ? SAMPLE_IDS.instanceIds : field === 'endpoint' ? SAMPLE_IDS.endpoints : SAMPLE_IDS.groupIds
  return list.includes(value)
}
