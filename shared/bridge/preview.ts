// What the bridge would do with one RocketMQ event, without a broker: the same parseEvent, RuleIndex and
// mapMessage the bridge runs, and the same in-batch duplicate handling, so the preview cannot drift from it.
// Per message: the route taken and the rendered topic, the dead-letter reason, that it was filtered, or
// under a deadline its time left or that it has expired.
import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { DeadLetterInfo } from '../dead-letters/record.js'
import type { ParsedEvent } from '../events/message.js'
import { parseEvent } from '../events/parse.js'
import { isExpired } from '../mapping/deadline.js'
import type { Publish, RouteTaken, V5Properties } from '../mapping/publish.js'
import { RuleIndex } from '../mapping/rule-index.js'
import type { RuleSet } from '../rules/schema.js'
import { planBatch } from './plan.js'

export interface PreviewPublish {
  /** Position of the message in the event. */
  index: number
  messageId?: string
  ruleId: string
  /** The route it took: `routes[2]`, or `target` (the rule's parentTopic + mqttSecondTopic). */
  route: string
  /** The rendered MQTT topic. */
  topic: string
  qos: 0 | 1 | 2
  retain: boolean
  payloadBytes: number
  payloadSha256: string
  /** The payload as text, when it is UTF-8 and short enough to show (first 200 characters otherwise cut). */
  payloadText?: string
  /** MQTT 5 properties; left out (and counted) on an MQTT 3.1.1 connection. */
  properties?: V5Properties
  /** Under a delivery deadline: fresh now, with the time it has left (on MQTT 5, its expiry interval at most). */
  deadline?: PreviewDeadline
}

export interface PreviewDeadline {
  /** As the rules write it: `10m`. */
  deadline: string
  /** What its age counts from: `userProperties.<name>`, `time`, `BORN_TIMESTAMP` or `CONSUME_START_TIME`. */
  from: string
  sentAt: string
  timeLeftMs: number
  onExpired: 'dead-letter' | 'drop'
}

/** Past its deadline: the bridge would publish nothing, and store it (dead-letter) or only count it (drop). */
export interface PreviewExpired {
  index: number
  messageId?: string
  ruleId: string
  ageMs: number
  deadline: string
  from: string
  onExpired: 'dead-letter' | 'drop'
}

/** A dead letter as the preview shows it: everything but the entry itself. */
export type PreviewDeadLetter = DeadLetterInfo

/** A message no route of its rule accepts, where the rule says `unmatched: skip`. */
export interface PreviewFiltered {
  index: number
  messageId?: string
  ruleId: string
}

export interface Preview {
  shape: ParsedEvent['shape']
  received: number
  publishes: PreviewPublish[]
  deadLetters: PreviewDeadLetter[]
  filtered: PreviewFiltered[]
  expired: PreviewExpired[]
  duplicates: number
}

const TEXT_PREVIEW_CHARS = 200

/** `now`: the moment the deadlines are judged at (the bridge's invocation start). */
export function previewEvent(event: unknown, ruleSet: RuleSet, now = Date.now()): Preview {
  const parsed = parseEvent(event)
  const preview: Preview = {
    shape: parsed.shape,
    received: parsed.received,
    publishes: [],
    deadLetters: [],
    filtered: [],
    expired: [],
    duplicates: 0,
  }
  for (const r of planBatch(parsed, new RuleIndex(ruleSet), now)) {
    const e = r.status === 'publish' ? r.expiry : undefined
    if (r.status === 'publish' && e && isExpired(e.expiresAt, now)) {
      const { index, messageId, ruleId } = r.publish
      const ageMs = Math.max(0, now - e.sentAt)
      preview.expired.push({
        index,
        ...(messageId !== undefined ? { messageId } : {}),
        ruleId,
        ageMs,
        deadline: e.deadline.text,
        from: e.from,
        onExpired: e.deadline.onExpired,
      })
    } else if (r.status === 'publish') {
      const d = describePublish(r.publish, r.route)
      if (e)
        d.deadline = {
          deadline: e.deadline.text,
          from: e.from,
          sentAt: new Date(e.sentAt).toISOString(),
          timeLeftMs: e.expiresAt - now,
          onExpired: e.deadline.onExpired,
        }
      preview.publishes.push(d)
    } else if (r.status === 'duplicate') preview.duplicates++
    else if (r.status === 'filtered') {
      const { status: _status, ...info } = r
      preview.filtered.push(info)
    } else {
      const { event: _event, ...info } = r.deadLetter
      preview.deadLetters.push(info)
    }
  }
  return preview
}

export function describePublish(p: Publish, route: RouteTaken): PreviewPublish {
  const text = utf8Text(p.payload)
  return {
    index: p.index,
    ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
    ruleId: p.ruleId,
    route: route === 'target' ? 'target' : `routes[${route}]`,
    topic: p.topic,
    qos: p.qos,
    retain: p.retain,
    payloadBytes: p.payload.length,
    payloadSha256: sha256(p.payload),
    ...(text !== undefined ? { payloadText: text.length > TEXT_PREVIEW_CHARS ? `${text.slice(0, TEXT_PREVIEW_CHARS)}…` : text } : {}),
    ...(p.properties ? { properties: p.properties } : {}),
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The bytes as text when they are valid UTF-8, else undefined. */
export function utf8Text(bytes: Buffer): string | undefined {
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined
}
