// One synthetic RocketMQ message for a rule, as its trigger delivers it (docs/platform-facts.md §4), with a
// message ID and body of its own so the subscriber can tell it apart and the bridge never takes it for a duplicate.
import { randomBytes } from 'node:crypto'
import type { Rule } from '../../../shared/rules/schema.js'

export interface SmokeInput {
  rule: Rule
  accountId: string
  userProperties: Record<string, string>
  body?: string
  /** The tag it carries; default the first of the rule's source.tags (none for `*`). */
  tag?: string | undefined
  keys?: string | undefined
  now?: Date
}

export const smokeToken = () => randomBytes(5).toString('hex')

/** The event, and the payload the subscriber must receive byte for byte. */
export function syntheticEvent(input: SmokeInput, token = smokeToken()) {
  const { rule, accountId } = input
  const now = input.now ?? new Date()
  const messageId = `SMOKE${token.toUpperCase()}${now.getTime().toString(16).toUpperCase()}`
  const text = input.body ?? `smoke test ${messageId} ${now.toISOString()}`
  const payload = Buffer.from(text, 'utf8')
  const s = rule.source
  const tag = 'tag' in input ? input.tag : s.tags === '*' ? undefined : s.tags.split('||')[0]
  const event = {
    id: `smoke-${token}`,
    source: `RocketMQ-Function-rocketmq-${rule.id}`,
    specversion: '1.0',
    type: 'mq:Topic:SendMessage',
    datacontenttype: 'application/json; charset=utf-8',
    // The instance in the subject, as EventBridge names it; a self-managed source has none.
    ...(s.instanceId ? { subject: `acs:mq:${s.regionId}:${accountId}:${s.instanceId}%${s.topic}` } : {}),
    time: now.toISOString(),
    aliyunaccountid: accountId,
    aliyunregionid: s.regionId,
    data: {
      topic: s.topic,
      systemProperties: {
        UNIQ_KEY: messageId,
        KEYS: input.keys ?? 'smoke-test',
        ...(tag ? { TAGS: tag } : {}),
        ...(s.instanceId && s.type === 'apsaramq-4' ? { INSTANCE_ID: s.instanceId } : {}),
      },
      userProperties: input.userProperties,
      body: rule.target.bodyEncoding === 'base64' ? payload.toString('base64') : text,
    },
  }
  return { messageId, tag, userProperties: input.userProperties, payload, event: [event] as unknown[] }
}
