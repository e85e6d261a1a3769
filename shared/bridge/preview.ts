// What the bridge would do with one RocketMQ event, without a broker: the same parseEvent, RuleIndex and
// mapMessage the bridge runs, and the same in-batch duplicate handling, so the preview cannot drift from it.
import { createHash } from 'node:crypto'
import type { ParsedEvent } from '../events/message.js'
import { parseEvent } from '../events/parse.js'
import { type Publish, RuleIndex, type V5Properties } from '../mapping/map-message.js'
import type { RuleSet } from '../rules/schema.js'
import { planBatch } from './plan.js'

export interface PreviewPublish {
  /** Position of the message in the event. */
  index: number
  messageId?: string
  ruleId: string
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

export interface PreviewDeadLetter {
  index: number
  messageId?: string
  ruleId?: string
  reason: string
}

export interface Preview {
  shape: ParsedEvent['shape']
  received: number
  publishes: PreviewPublish[]
  deadLetters: PreviewDeadLetter[]
  duplicates: number
}

const TEXT_PREVIEW_CHARS = 200

export function previewEvent(event: unknown, ruleSet: RuleSet): Preview {
  const parsed = parseEvent(event)
  const plan = planBatch(parsed, new RuleIndex(ruleSet))
  return {
    shape: parsed.shape,
    received: parsed.received,
    publishes: plan.publishes.map(describePublish),
    deadLetters: plan.poison.map((p) => ({
      index: p.index,
      ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
      ...(p.ruleId !== undefined ? { ruleId: p.ruleId } : {}),
      reason: p.reason,
    })),
    duplicates: plan.duplicates,
  }
}

export function describePublish(p: Publish): PreviewPublish {
  const text = utf8Text(p.payload)
  return {
    index: p.index,
    ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
    ruleId: p.ruleId,
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

function utf8Text(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}
