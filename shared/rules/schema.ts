// The rules file format (docs/architecture.md, "Rules"). Strict objects, so a misspelt key is an error, not a silent default.
import { z } from 'zod'
import { error, typeError } from '../schema-helpers.js'

const qos = z.union([z.literal(0), z.literal(1), z.literal(2)], error('must be 0, 1 or 2'))

const OFFSET_MESSAGE = "must be 'latest', 'earliest' or an ISO timestamp such as 2026-01-31T08:00:00Z"
/**
 * zod 4's ISO datetime with offset: seconds required, an offset only as ±hh:mm within ±23:59. zod 3's
 * `datetime({ offset: true })` also takes 08:00Z and +0800, so rules valid here would change meaning.
 */
const ISO_TIMESTAMP =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$/

const offset = z.union([z.literal('latest'), z.literal('earliest'), z.string().regex(ISO_TIMESTAMP, OFFSET_MESSAGE)], error(OFFSET_MESSAGE))

/**
 * A length limit as zod 4 checked it: text in code points, and a value of the wrong type that has a length
 * (a list given for text, text given for a list) measured too, its limit's message after the type's.
 */
function limited<T>(expected: 'string' | 'array', typeMessage: string, within: (length: number) => boolean, limitMessage: string) {
  return z.custom<T>().superRefine((v, ctx) => {
    if (expected === 'string' ? typeof v !== 'string' : !Array.isArray(v))
      ctx.addIssue({ code: z.ZodIssueCode.invalid_type, expected, received: z.getParsedType(v), message: typeMessage })
    const length: unknown =
      typeof v === 'string' ? [...v].length : v === null || v === undefined ? undefined : (v as { length?: unknown }).length
    if (length !== undefined && !within(length as number)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: limitMessage })
  })
}

/**
 * An integer from min to max, checked as zod 4's z.int() did: its messages for a value that is no safe
 * integer are reported as they are, and a value that is no integer gets no range message.
 */
const int = (min: number, max: number) =>
  z.number(typeError('number')).superRefine((n, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message })
    if (!Number.isFinite(n)) return issue(`Invalid input: expected number, received ${n}`)
    if (!Number.isInteger(n)) return issue('Invalid input: expected int, received number')
    if (n > Number.MAX_SAFE_INTEGER) issue(`Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`)
    if (n < Number.MIN_SAFE_INTEGER) issue(`Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}`)
    if (n < min || n > max) issue(`must be ${min} to ${max}`)
  })

/** EventBridge delivery settings for the rule's trigger (docs/platform-facts.md §4). */
export const triggerSettingsSchema = z
  .object({
    batchSize: int(1, 10000).optional(),
    batchWindowSeconds: int(0, 15).optional(),
    retryStrategy: z
      .enum(['BACKOFF_RETRY', 'EXPONENTIAL_DECAY_RETRY'], error('must be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY'))
      .optional(),
    errorsTolerance: z.enum(['NONE', 'ALL'], error('must be NONE or ALL')).optional(),
  })
  .strict()

export const ruleSchema = z
  .object({
    id: z.string(error('must be a string')).regex(/^[A-Za-z0-9_-]{3,64}$/, "must be 3-64 characters: letters, digits, '-' and '_'"),
    description: limited<string>('string', 'must be a string', (n) => n <= 256, 'must be at most 256 characters').optional(),
    enabled: z.boolean(error('must be true or false')).default(true),
    source: z
      .object(
        {
          regionId: z
            .string(error('must be a region ID such as cn-hangzhou'))
            .regex(/^[a-z]{2,}-[a-z0-9-]+$/, 'must be a region ID such as cn-hangzhou'),
          instanceId: limited<string>('string', 'must be a string', (n) => n >= 1, 'must not be empty'),
          topic: z
            .string(error('must be a string'))
            .regex(/^[A-Za-z0-9%|_-]{1,255}$/, "must be a RocketMQ topic name: 1-255 letters, digits, '%', '|', '-' or '_'"),
          tags: z
            .string(error('must be a string'))
            .regex(/^(\*|[^|*\s]+(\|\|[^|*\s]+)*)$/, "must be '*' or tags joined by '||', such as TagA||TagB")
            .default('*'),
          groupId: z
            .string(error('must be a string'))
            .regex(
              /^(GID_|GID-)[A-Za-z0-9_-]{3,60}$/,
              "must be a Group ID: 7-64 characters starting with GID_ or GID-, then letters, digits, '-' or '_'",
            ),
          offset: offset.default('latest'),
        },
        error('must be an object with regionId, instanceId, topic, groupId'),
      )
      .strict(),
    target: z
      .object(
        {
          parentTopic: z.string(error('must be a string')),
          qos: qos.optional(),
          retain: z.boolean(error('must be true or false')).default(false),
          bodyEncoding: z.enum(['utf8', 'base64'], error('must be utf8 or base64')).default('utf8'),
          forwardUserProperties: z.boolean(error('must be true or false')).default(false),
        },
        error('must be an object with parentTopic'),
      )
      .strict(),
    trigger: triggerSettingsSchema.optional(),
  })
  .strict()

export const defaultsSchema = z
  .object({
    profile: z.enum(['alibaba', 'mqtt'], error('must be alibaba or mqtt')).default('alibaba'),
    qos: qos.default(1),
    trigger: triggerSettingsSchema.optional(),
  })
  .strict()
  .default({ profile: 'alibaba', qos: 1 })

/** Beyond any profile's limit; refused before each rule is checked, so a huge list costs nothing. */
export const MAX_RULES = 1000

/** The file's outer shape; each rule is checked on its own so one bad rule does not hide the others' problems. */
export const rulesFileSchema = z
  .object(
    {
      defaults: z.unknown().optional(),
      // A dense copy, as z.array made: a sparse list's holes are rules too ("is required").
      rules: limited<unknown[]>(
        'array',
        'must be a list of rules',
        (n) => n <= MAX_RULES,
        `must hold at most ${MAX_RULES} rules`,
      ).transform((rules) => Array.from(rules)),
    },
    error('must be a mapping with a rules list'),
  )
  .strict()

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
