// The rules file format (docs/architecture.md, "Rules"). Strict objects, so a misspelt key is an error, not a silent default.
import { z } from 'zod'
import { error, typeError } from '../schema-helpers.js'
import { MAX_ROUTES, qosSchema, routeSchema } from './route.js'
import { sourceSchema } from './source.js'

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
    source: sourceSchema,
    target: z
      .object(
        {
          parentTopic: z.string(error('must be a string')),
          qos: qosSchema.optional(),
          retain: z.boolean(error('must be true or false')).default(false),
          bodyEncoding: z.enum(['utf8', 'base64'], error('must be utf8 or base64')).default('utf8'),
          forwardUserProperties: z.boolean(error('must be true or false')).default(false),
        },
        error('must be an object with parentTopic'),
      )
      .strict(),
    /**
     * Tried in order before the target: the first that accepts a message takes it (docs/rules.md,
     * "Routes: topic templates and filters").
     */
    routes: z.array(routeSchema, error('must be a list of routes')).max(MAX_ROUTES, `must hold at most ${MAX_ROUTES} routes`).optional(),
    /** What a message no route accepts does: go to the target (the default), or be counted as filtered. */
    unmatched: z.enum(['target', 'skip'], error('must be target (the default) or skip')).optional(),
    /** Messages of one RocketMQ message group are delivered in order (docs/rules.md, "Ordered delivery per message group"). */
    ordering: z.literal('message-group', error('must be message-group, or left out')).optional(),
    trigger: triggerSettingsSchema.optional(),
  })
  .strict()

export const defaultsSchema = z
  .object({
    profile: z.enum(['alibaba', 'mqtt'], error('must be alibaba or mqtt')).default('alibaba'),
    qos: qosSchema.default(1),
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
