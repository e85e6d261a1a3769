// The zod schemas of a RocketMQ message as EventBridge delivers it (docs/platform-facts.md §4): the `data`
// object, and the CloudEvent around it. The fast path (fast-path.ts) must accept exactly what these accept.
import { z } from 'zod'
import { error, finite, ownRecord, typeError } from '../schema-helpers.js'

const propertyValue = z.union([z.string(), finite('must be a string'), z.boolean()], error('must be a string')).transform(String)

export const dataSchema = z.object(
  {
    topic: z.string(error('must be a string')).min(1, 'must not be empty'),
    // Maps without a prototype: a property called `__proto__` or `toString` is an ordinary name.
    systemProperties: ownRecord(z.union([z.string(), finite('Invalid input'), z.boolean(), z.null()]), 'must be an object').optional(),
    userProperties: ownRecord(propertyValue, 'must be an object of strings').optional(),
    body: z.string(error('must be a string')),
    // A self-managed source's message ID (docs/platform-facts.md §8.3, a hint only): ignored unless it is text.
    msgId: z.string().optional().catch(undefined),
  },
  error('must be an object with topic and body'),
)

export const cloudEventSchema = z.object({
  id: z.string(typeError('string')).optional(),
  subject: z.string(typeError('string')).optional(),
  time: z.string(typeError('string')).optional(),
  data: dataSchema,
})

export type Data = z.infer<typeof dataSchema>
export type CloudEvent = z.infer<typeof cloudEventSchema>
