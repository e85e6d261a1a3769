// A message's delivery deadline (docs/rules.md, "Delivery deadlines"): when it expires, counted from the
// producer's send time in `deadlineFrom`, else from the event's time (events/event-time.ts). Checked when a
// batch is planned (bridge/plan.ts) and again just before its PUBLISH is written (mqtt/publish-window.ts).

import { parseTimestamp } from '../events/event-time.js'
import type { RocketMessage } from '../events/message.js'
import { compileDeadline, type Deadline, type DeadlinedRule } from '../rules/deadline.js'
import { quote } from '../rules/topics.js'
import type { Publish, RouteTaken } from './publish.js'

/** Less than this left, and a message is expired: MQTT 5's expiry interval counts whole seconds. */
export const MIN_TIME_LEFT_MS = 1000

export interface Expiry {
  deadline: Deadline
  /** When it was sent (epoch ms), and what said so: `userProperties.<name>`, `time`, `BORN_TIMESTAMP` or `CONSUME_START_TIME`. */
  sentAt: number
  from: string
  /** Epoch ms: no PUBLISH of it is written from MIN_TIME_LEFT_MS before this on. */
  expiresAt: number
}

/** Compiled once per rule (and route); the rules do not change while the bridge runs. */
const compiled = new WeakMap<object, Map<RouteTaken, Deadline | undefined>>()

export function deadlineOf(rule: DeadlinedRule, defaultDeadline: string | undefined, route: RouteTaken): Deadline | undefined {
  let byRoute = compiled.get(rule)
  if (!byRoute) {
    byRoute = new Map()
    compiled.set(rule, byRoute)
  }
  if (!byRoute.has(route)) byRoute.set(route, compileDeadline(rule, defaultDeadline, route === 'target' ? undefined : route))
  return byRoute.get(route)
}

/**
 * When the message expires, or why that cannot be told (a malformed send time, or no time at all): a reason
 * that singles the message out. A send time in the future (a producer's clock ahead) earns no more than the
 * deadline from now.
 */
export function expiryOf(msg: RocketMessage, deadline: Deadline, now: number): { ok: true; value: Expiry } | { ok: false; reason: string } {
  let sentAt: number | undefined
  let from: string | undefined
  if (deadline.from !== undefined) {
    const raw = Object.hasOwn(msg.userProperties, deadline.from) ? msg.userProperties[deadline.from] : undefined
    if (raw !== undefined) {
      sentAt = parseTimestamp(raw)
      if (sentAt === undefined)
        return {
          ok: false,
          reason: `userProperties.${deadline.from}: must be the send time in epoch milliseconds or ISO 8601 with a time zone (the rule's deadlineFrom), got ${quote(raw)}`,
        }
      from = `userProperties.${deadline.from}`
    }
  }
  if (sentAt === undefined && msg.sentAt) {
    sentAt = msg.sentAt.at
    from = msg.sentAt.from
  }
  if (sentAt === undefined || from === undefined)
    return {
      ok: false,
      reason: `the rule's deadline (${deadline.text}) cannot be checked: the message carries no time to count it from (${deadline.from !== undefined ? `no userProperties.${deadline.from}, ` : ''}no CloudEvent time, BORN_TIMESTAMP or CONSUME_START_TIME)`,
    }
  return { ok: true, value: { deadline, sentAt, from, expiresAt: Math.min(sentAt, now) + deadline.ms } }
}

/** Time left before the message expires, in ms (negative once past). */
export const timeLeft = (expiresAt: number, now: number) => expiresAt - now

export const isExpired = (expiresAt: number, now: number) => expiresAt - now < MIN_TIME_LEFT_MS

/**
 * On MQTT 5 a message under a deadline expires in the broker when it would here: its expiry interval is the
 * time left, rounded up to whole seconds, or the producer's own mqtt5MsgExpireInterval when that is shorter.
 */
export function withExpiryInterval(p: Publish, leftMs: number): Publish {
  const left = Math.ceil(leftMs / 1000)
  const own = p.properties?.messageExpiryInterval
  return { ...p, properties: { ...p.properties, messageExpiryInterval: own === undefined ? left : Math.min(own, left) } }
}
