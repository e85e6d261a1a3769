// A rule's RocketMQ source: ApsaraMQ for RocketMQ 4.x (the default, what Alibaba's own inbound rules
// take), ApsaraMQ for RocketMQ 5.x, or a self-managed Apache RocketMQ cluster. EventBridge reads all
// three (docs/platform-facts.md §8). Each type has its own naming rules; every error carries its path.
import { z } from 'zod'
import { error } from '../schema-helpers.js'

export const SOURCE_TYPES = ['apsaramq-4', 'apsaramq-5', 'apache'] as const
export type SourceType = (typeof SOURCE_TYPES)[number]

/**
 * The trigger's InstanceType per source type. Cloud_4 and Cloud_5 are documented for triggers; the
 * self-managed value is not (SelfBuilt is the EventBridge models' name): `source.instanceType` overrides it.
 */
export const INSTANCE_TYPES: Record<SourceType, string> = { 'apsaramq-4': 'Cloud_4', 'apsaramq-5': 'Cloud_5', apache: 'SelfBuilt' }

const OFFSET_MESSAGE = "must be 'latest', 'earliest' or an ISO timestamp such as 2026-01-31T08:00:00Z"
/**
 * zod 4's ISO datetime with offset: seconds required, an offset only as ±hh:mm within ±23:59. zod 3's
 * `datetime({ offset: true })` also takes 08:00Z and +0800, so rules valid here would change meaning.
 */
const ISO_TIMESTAMP =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$/

const offset = z.union([z.literal('latest'), z.literal('earliest'), z.string().regex(ISO_TIMESTAMP, OFFSET_MESSAGE)], error(OFFSET_MESSAGE))

/** An environment variable's name, as POSIX shells take it. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** host:port, the NameServer or access point EventBridge connects to. */
const ENDPOINT = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/

const text = () => z.string(error('must be a string'))

const acl = z
  .object(
    {
      username: text().min(1, 'must not be empty'),
      passwordEnv: text().regex(ENV_NAME, 'must be the name of an environment variable (letters, digits and _, not starting with a digit)'),
      // A password written here would land in s.yaml and in git.
      password: z.never(error('must not be in rules.yaml: put it in an environment variable and name it in acl.passwordEnv')).optional(),
    },
    error('must be a mapping with username and passwordEnv'),
  )
  .strict()

const network = z
  .object(
    {
      vpcId: text().regex(/^vpc-[a-z0-9]+$/, 'must be a VPC ID such as vpc-uf6of9452b2pba82c'),
      vSwitchIds: z
        .array(
          text().regex(/^vsw-[a-z0-9]+$/, 'must be a vSwitch ID such as vsw-uf6gwtbn6etadpvz7'),
          error('must be a list of vSwitch IDs'),
        )
        .min(1, 'must name at least one vSwitch'),
      securityGroupId: text().regex(/^sg-[a-z0-9]+$/, 'must be a security group ID such as sg-hp35r2hc3a3sv8q2'),
    },
    error('must be a mapping with vpcId, vSwitchIds and securityGroupId (private access needs all three)'),
  )
  .strict()

/** `*`, or tags joined by `||`: TagA||TagB. */
export const TAGS = /^(\*|[^|*\s]+(\|\|[^|*\s]+)*)$/

export const sourceSchema = z
  .object(
    {
      type: z.enum(SOURCE_TYPES, error('must be apsaramq-4, apsaramq-5 or apache')).default('apsaramq-4'),
      regionId: z
        .string(error('must be a region ID such as cn-hangzhou'))
        .regex(/^[a-z]{2,}-[a-z0-9-]+$/, 'must be a region ID such as cn-hangzhou'),
      instanceId: text().min(1, 'must not be empty').optional(),
      endpoint: text().regex(ENDPOINT, 'must be host:port, such as 10.0.0.8:9876').optional(),
      topic: text(),
      tags: text().regex(TAGS, "must be '*' or tags joined by '||', such as TagA||TagB").default('*'),
      groupId: text(),
      offset: offset.default('latest'),
      acl: acl.optional(),
      network: network.optional(),
      /** The trigger's InstanceType, for when Alibaba documents another value than INSTANCE_TYPES. */
      instanceType: text()
        .regex(/^[A-Za-z0-9_]{1,32}$/, 'must be 1-32 letters, digits or _, such as Cloud_5')
        .optional(),
    },
    error('must be a mapping with regionId, instanceId, topic, groupId'),
  )
  .strict()
  .superRefine((s, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message })
    for (const [path, message] of typeProblems(s)) problem(path, message)
  })

export type Source = z.infer<typeof sourceSchema>

/** 5.x and Apache RocketMQ reserve these topic names (docs/platform-facts.md §8). */
const RESERVED_TOPICS = new Set(['TBW102', 'SCHEDULE_TOPIC_XXXX'])
const RESERVED_TOPIC_PREFIXES = ['RMQ_SYS_', 'rmq_sys_', '%RETRY%', '%DLQ%', 'rocketmq-broker-', 'rocketmq-proxy-']

function reservedTopic(topic: string): string | undefined {
  if (RESERVED_TOPICS.has(topic)) return `${topic} is a reserved system topic`
  const prefix = RESERVED_TOPIC_PREFIXES.find((p) => topic.startsWith(p))
  if (prefix) return `topics starting with ${prefix} are reserved for the system`
  if (topic.endsWith('_REPLY_TOPIC')) return 'topics ending in _REPLY_TOPIC are reserved for the system'
  return undefined
}

/** Each source type's own rules, as [field, message] pairs. */
function typeProblems(s: Omit<Source, 'type'> & { type: SourceType }): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const id = s.instanceId
  if (s.type === 'apsaramq-4') {
    if (id === undefined)
      out.push(['instanceId', 'is required for source type apsaramq-4 (an ID such as MQ_INST_1234567890123456_BXhFHryi)'])
    else if (id.startsWith('rmq-'))
      out.push(['instanceId', `${JSON.stringify(id)} is a RocketMQ 5.x instance ID; set source.type: apsaramq-5`])
    if (!/^(GID_|GID-)[A-Za-z0-9_-]{3,60}$/.test(s.groupId)) {
      out.push(['groupId', "must be a Group ID: 7-64 characters starting with GID_ or GID-, then letters, digits, '-' or '_'"])
    }
    if (!/^[A-Za-z0-9%|_-]{1,255}$/.test(s.topic))
      out.push(['topic', "must be a RocketMQ topic name: 1-255 letters, digits, '%', '|', '-' or '_'"])
    return out
  }
  if (s.type === 'apsaramq-5') {
    if (id === undefined) out.push(['instanceId', 'is required for source type apsaramq-5 (an ID such as rmq-cn-jte3w5i0a01)'])
    else if (!/^rmq-[a-z0-9-]+$/.test(id)) {
      out.push([
        'instanceId',
        `must be a RocketMQ 5.x instance ID such as rmq-cn-jte3w5i0a01${id.startsWith('MQ_INST_') ? '; MQ_INST_ IDs are 4.x: set source.type: apsaramq-4' : ''}`,
      ])
    }
  } else if (s.endpoint === undefined) {
    out.push(['endpoint', 'is required for source type apache: the NameServer address, such as 10.0.0.8:9876'])
  }
  // 5.x and Apache RocketMQ name groups and topics alike; 1-128 topic characters is the Serverless limit (60 elsewhere).
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(s.groupId)) out.push(['groupId', "must be 1-60 letters, digits, '-' or '_' (no GID_ prefix needed)"])
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(s.topic)) out.push(['topic', "must be a RocketMQ 5.x topic name: 1-128 letters, digits, '-' or '_'"])
  else {
    const reserved = reservedTopic(s.topic)
    if (reserved) out.push(['topic', `${reserved}; choose another topic`])
  }
  return out
}
