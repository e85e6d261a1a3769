// Rendering a route's templates for one message: concatenation of the parts parsed at rule load
// (shared/rules/template.ts). Each placeholder fills exactly one topic level; a value that cannot is the
// reason the message becomes a dead letter, naming the placeholder and the value (docs/rules.md, "Templates").

import { mqttStringProblem } from '../rules/mqtt-strings.js'
import type { Profile } from '../rules/profiles.js'
import type { Placeholder, Template } from '../rules/template.js'
import { levelValueProblem, type TopicTemplate } from '../rules/topic-template.js'
import { fullTopicProblem, quote } from '../rules/topics.js'
import type { MessageFields } from './message-fields.js'

export type Rendered = { ok: true; text: string } | { ok: false; reason: string }

const fail = (reason: string): Rendered => ({ ok: false, reason })

/** Why a placeholder has no value for this message. A class, so the hot path returns plain strings. */
class NoValue {
  constructor(readonly reason: string) {}
}

/** The placeholder's value for this message, its default, or why there is none. */
function placeholderValue(p: Placeholder, fields: MessageFields): string | NoValue {
  const v = fields.read(p.field)
  if (typeof v === 'string') return v
  if (v !== undefined) return new NoValue(`${p.text} is ${v.notText}, not a value`)
  if (p.fallback !== undefined) return p.fallback
  const why = p.field.kind === 'body' && fields.bodyIsNotJson ? ': the body is not JSON' : ''
  return new NoValue(`${p.text} is missing${why} and has no default (such as ${p.text.slice(0, -1)}:-unknown})`)
}

/**
 * The topic for this message. The fast path assembles it and checks it once as a whole, as the rule's
 * target does; only a topic that fails is looked at placeholder by placeholder, to name the culprit. What
 * the whole-topic check cannot see (a '/' that would make a level more, a '$' opening a level) is checked
 * on each value as it goes in.
 */
export function renderTopic(t: TopicTemplate, fields: MessageFields, profile: Profile): Rendered {
  let topic = ''
  if (t.flat) {
    // Joined, not appended piece by piece: V8 reads a left-leaning chain of concatenations more slowly.
    const pieces: string[] = []
    for (const part of t.flat) {
      if (typeof part === 'string') {
        pieces.push(part)
        continue
      }
      const v = placeholderValue(part, fields)
      if (v instanceof NoValue) return fail(v.reason)
      if (v.includes('/') || v.startsWith('$'))
        return fail(`${part.text} is ${quote(v)}, which ${levelValueProblem(v, undefined, profile)}`)
      pieces.push(v)
    }
    topic = pieces.join('')
    const bad = fullTopicProblem(topic, 1, profile)
    return bad ? fail(culprit(t, fields, profile) ?? `topic ${bad}`) : { ok: true, text: topic }
  }
  for (const level of t.levels) {
    if (level.subtopic) {
      const p = level.parts[0] as Placeholder
      const v = placeholderValue(p, fields)
      if (v instanceof NoValue) return fail(v.reason)
      // As the rule's target takes it: a leading '/' is optional; an empty value adds no level.
      const sub = v.startsWith('/') ? v.slice(1) : v
      if (sub === '') continue
      if (sub.startsWith('$') || sub.includes('/$'))
        return fail(`${p.text} is ${quote(v)}: a level of it starts with '$', which is reserved for the broker`)
      topic = topic === '' ? sub : `${topic}/${sub}`
      continue
    }
    let text = ''
    for (const part of level.parts) {
      if (typeof part === 'string') {
        text += part
        continue
      }
      const v = placeholderValue(part, fields)
      if (v instanceof NoValue) return fail(v.reason)
      if (v.includes('/') || v.startsWith('$'))
        return fail(`${part.text} is ${quote(v)}, which ${levelValueProblem(v, undefined, profile)}`)
      text += v
    }
    topic = topic === '' ? text : `${topic}/${text}`
  }
  const bad = fullTopicProblem(topic, 1, profile)
  return bad ? fail(culprit(t, fields, profile) ?? `topic ${bad}`) : { ok: true, text: topic }
}

/** The first placeholder whose value cannot fill its level, named with the value; undefined if none is to blame. */
function culprit(t: TopicTemplate, fields: MessageFields, profile: Profile): string | undefined {
  for (const level of t.levels) {
    for (const part of level.parts) {
      if (typeof part === 'string') continue
      const v = placeholderValue(part, fields)
      if (v instanceof NoValue) continue
      if (level.subtopic) {
        const sub = v.startsWith('/') ? v.slice(1) : v
        for (const piece of sub === '' ? [] : sub.split('/')) {
          const bad = piece === '' ? 'has an empty level' : levelValueProblem(piece, undefined, profile)
          if (bad) return `${part.text} is ${quote(v)}: ${piece === '' ? bad : `its level ${quote(piece)} ${bad}`}`
        }
        continue
      }
      const bad = levelValueProblem(v, level.pattern, profile)
      if (bad) return `${part.text} is ${quote(v)}, which ${bad}`
    }
  }
  return undefined
}

/** A user property's value: any MQTT string. */
export function renderText(t: Template, fields: MessageFields): Rendered {
  let text = ''
  for (const part of t.parts) {
    if (typeof part === 'string') {
      text += part
      continue
    }
    const v = placeholderValue(part, fields)
    if (v instanceof NoValue) return fail(v.reason)
    text += v
  }
  const bad = mqttStringProblem(text)
  return bad ? fail(`${quote(text)} is ${bad}`) : { ok: true, text }
}
