// What the bridge would do with one RocketMQ event, without a broker: the same parseEvent, RuleIndex and
// mapMessage the bridge runs, and the same in-batch duplicate handling, so the preview cannot drift from it.
// Per message: the route taken and the rendered topic, the dead-letter reason, or that it was filtered.
import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { DeadLetterInfo } from '../dead-letters/record.js'
import type { ParsedEvent } from '../events/message.js'
import { parseEvent } from '../events/parse.js'
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
  duplicates: number
}

const TEXT_PREVIEW_CHARS = 200

export function previewEvent(event: unknown, ruleSet: RuleSet): Preview {
  const parsed = parseEvent(event)
  const preview: Preview = { shape: parsed.shape, received: parsed.received, publishes: [], deadLetters: [], filtered: [], duplicates: 0 }
  for (const r of planBatch(parsed, new RuleIndex(ruleSet))) {
    if (r.status === 'publish') preview.publishes.push(describePublish(r.publish, r.route))
    else if (r.status === 'duplicate') preview.duplicates++
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
