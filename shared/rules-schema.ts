// The rules file format (DESIGN.md, "Rules"). Strict objects, so a misspelt key is an error, not a silent default.
import { z } from 'zod'

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' })

const offset = z.union([
  z.literal('latest'),
  z.literal('earliest'),
  z.iso.datetime({ offset: true, error: "must be 'latest', 'earliest' or an ISO timestamp such as 2026-01-31T08:00:00Z" }),
], { error: "must be 'latest', 'earliest' or an ISO timestamp such as 2026-01-31T08:00:00Z" })

/** EventBridge delivery settings for the rule's trigger (facts, section 4). */
export const triggerSettingsSchema = z.strictObject({
  batchSize: z.int().min(1, 'must be 1 to 10000').max(10000, 'must be 1 to 10000').optional(),
  batchWindowSeconds: z.int().min(0, 'must be 0 to 15').max(15, 'must be 0 to 15').optional(),
  retryStrategy: z.enum(['BACKOFF_RETRY', 'EXPONENTIAL_DECAY_RETRY'], { error: 'must be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY' }).optional(),
  errorsTolerance: z.enum(['NONE', 'ALL'], { error: 'must be NONE or ALL' }).optional(),
})

export const ruleSchema = z.strictObject({
  id: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_-]{3,64}$/, "must be 3-64 characters: letters, digits, '-' and '_'"),
  description: z.string({ error: 'must be a string' }).max(256, 'must be at most 256 characters').optional(),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  source: z.strictObject({
    regionId: z.string({ error: 'must be a region ID such as cn-hangzhou' }).regex(/^[a-z]{2,}-[a-z0-9-]+$/, 'must be a region ID such as cn-hangzhou'),
    instanceId: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
    topic: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9%|_-]{1,255}$/, "must be a RocketMQ topic name: 1-255 letters, digits, '%', '|', '-' or '_'"),
    tags: z.string({ error: 'must be a string' }).regex(/^(\*|[^|*\s]+(\|\|[^|*\s]+)*)$/, "must be '*' or tags joined by '||', such as TagA||TagB").default('*'),
    groupId: z.string({ error: 'must be a string' }).regex(/^(GID_|GID-)[A-Za-z0-9_-]{3,60}$/, "must be a Group ID: 7-64 characters starting with GID_ or GID-, then letters, digits, '-' or '_'"),
    offset: offset.default('latest'),
  }, { error: 'must be an object with regionId, instanceId, topic, groupId' }),
  target: z.strictObject({
    parentTopic: z.string({ error: 'must be a string' }),
    qos: qos.optional(),
    retain: z.boolean({ error: 'must be true or false' }).default(false),
    bodyEncoding: z.enum(['utf8', 'base64'], { error: 'must be utf8 or base64' }).default('utf8'),
    forwardUserProperties: z.boolean({ error: 'must be true or false' }).default(false),
  }, { error: 'must be an object with parentTopic' }),
  trigger: triggerSettingsSchema.optional(),
})

export const defaultsSchema = z.strictObject({
    profile: z.enum(['alibaba', 'mqtt'], { error: 'must be alibaba or mqtt' }).default('alibaba'),
    qos: qos.default(1),
    trigger: triggerSettingsSchema.optional(),
  }).default({ profile: 'alibaba', qos: 1 })

/** Beyond any profile's limit; refused before each rule is checked, so a huge list costs nothing. */
export const MAX_RULES = 1000

/** The file's outer shape; each rule is checked on its own so one bad rule does not hide the others' problems. */
export const rulesFileSchema = z.strictObject({
  defaults: z.unknown().optional(),
  rules: z.array(z.unknown(), { error: 'must be a list of rules' }).max(MAX_RULES, `must hold at most ${MAX_RULES} rules`),
}, { error: 'must be a mapping with a rules list' })

type Defaults = z.infer<typeof defaultsSchema>
export type TriggerSettings = z.infer<typeof triggerSettingsSchema>
type ParsedRule = z.infer<typeof ruleSchema>

/** A rule after validation: every default filled in. */
export interface Rule extends Omit<ParsedRule, 'target'> {
  target: Omit<ParsedRule['target'], 'qos'> & { qos: 0 | 1 | 2 }
}

export interface RuleSet {
  profile: Defaults['profile']
  defaultQos: 0 | 1 | 2
  defaultTrigger?: TriggerSettings
  rules: Rule[]
}
