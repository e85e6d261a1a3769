// examples/events.json (examples/README.md): the sample events `npm start` sends, what each must produce,
// and the check against what the subscriber received and the dead-letter store holds.
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import type { StoredDeadLetter } from '../../shared/dead-letters/store/entry.js'
import { messageOf } from '../../shared/errors.js'
import type { Received } from '../mqtt/subscriber.js'

const expectedMessage = z
  .object({
    topic: z.string(),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
    payload: z.string(),
    /** Checked only where they can arrive: bridge and subscriber both on MQTT 5. */
    mqtt5: z
      .object({
        userProperties: z.record(z.string(), z.string()).optional(),
        messageExpiryInterval: z.number().int().optional(),
        contentType: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

const sample = z
  .object({
    name: z.string().min(1),
    about: z.string().optional(),
    /** The request body, as the RocketMQ trigger sends it. */
    event: z.unknown(),
    expect: z
      .object({
        mqtt: z.array(expectedMessage),
        /** `reason` is a part of the stored reason, case-insensitive. */
        deadLetters: z.array(z.object({ messageId: z.string(), reason: z.string() }).strict()),
      })
      .strict(),
  })
  .strict()

const samplesFile = z.object({ about: z.string().optional(), samples: z.array(sample).min(1) }).strict()

export type Sample = z.infer<typeof sample>
export type ExpectedMessage = z.infer<typeof expectedMessage>

export function loadSamples(path: string): Sample[] {
  let value: unknown
  try {
    value = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new Error(`${path}: ${messageOf(err)}`)
  }
  const parsed = samplesFile.safeParse(value)
  if (!parsed.success)
    throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`)
  return parsed.data.samples
}

/** Every `time` and `aliyunpublishtime` set to `now`, as the trigger stamps them: lagMs measures this run. */
export function stampTimes(event: unknown, now: Date): unknown {
  const stamp = (e: unknown): unknown => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return e
    const copy: Record<string, unknown> = { ...e }
    if ('time' in copy) copy['time'] = now.toISOString()
    if ('aliyunpublishtime' in copy) copy['aliyunpublishtime'] = now.toISOString()
    return copy
  }
  return Array.isArray(event) ? event.map(stamp) : stamp(event)
}

export interface MessageMatch {
  expected: ExpectedMessage
  sample: string
  received?: Received
  /** Set when MQTT 5 properties were checked and differ. */
  propertyProblem?: string
}

/** Pairs each expected message with a distinct received one (same topic, QoS and payload). */
export function matchMessages(samples: Sample[], received: Received[], checkMqtt5: boolean): MessageMatch[] {
  const unused = [...received]
  const matches: MessageMatch[] = []
  for (const s of samples) {
    for (const expected of s.expect.mqtt) {
      const i = unused.findIndex(
        (r) => r.topic === expected.topic && r.qos === expected.qos && r.payload.toString('utf8') === expected.payload,
      )
      const got = i >= 0 ? unused.splice(i, 1)[0] : undefined
      const match: MessageMatch = { expected, sample: s.name, ...(got ? { received: got } : {}) }
      const problem = got && checkMqtt5 && expected.mqtt5 ? mqtt5Problem(expected.mqtt5, got) : undefined
      if (problem) match.propertyProblem = problem
      matches.push(match)
    }
  }
  return matches
}

function mqtt5Problem(want: NonNullable<ExpectedMessage['mqtt5']>, got: Received): string | undefined {
  const p = got.properties ?? {}
  if (want.contentType !== undefined && p.contentType !== want.contentType)
    return `content type ${JSON.stringify(p.contentType)}, expected ${JSON.stringify(want.contentType)}`
  // A broker passes on the remaining expiry interval, which can only be lower.
  if (
    want.messageExpiryInterval !== undefined &&
    (p.messageExpiryInterval === undefined || p.messageExpiryInterval > want.messageExpiryInterval)
  )
    return `message expiry ${p.messageExpiryInterval}, expected at most ${want.messageExpiryInterval}`
  for (const [k, v] of Object.entries(want.userProperties ?? {})) {
    const have = p.userProperties?.[k]
    if (!(Array.isArray(have) ? have.includes(v) : have === v))
      return `user property ${k}=${JSON.stringify(have)}, expected ${JSON.stringify(v)}`
  }
  return undefined
}

/** Finds each expected dead letter among `recent`, the entries that failed during this run. */
export function matchDeadLetters(samples: Sample[], recent: StoredDeadLetter[]) {
  return samples.flatMap((s) =>
    s.expect.deadLetters.map((d) => {
      const entry = recent.find((e) => e.messageId === d.messageId && e.reason.toLowerCase().includes(d.reason.toLowerCase()))
      return { ...d, sample: s.name, ...(entry ? { entry } : {}) }
    }),
  )
}
