// The values routes read from one message (docs/rules.md, "Templates"). The body is parsed as JSON at
// most once, and only when a route reads it, its numbers kept as written (json-body.ts); a body path reads
// own properties only, so `__proto__` or `constructor` in a path finds nothing the message did not carry.
import type { RocketMessage } from '../events/message.js'
import type { Field, FieldReader, FieldValue } from '../rules/fields.js'
import { numberText, parseJsonBody } from './json-body.js'

const UNREAD: unique symbol = Symbol('unread')
const UNREADABLE: unique symbol = Symbol('unreadable')

export class MessageFields implements FieldReader {
  private body: unknown = UNREAD
  bodyProblem: string | undefined

  constructor(readonly msg: RocketMessage) {}

  read(f: Field): FieldValue {
    switch (f.kind) {
      case 'topic':
        return text(this.msg.topic)
      case 'tags':
        return text(this.msg.tags)
      case 'messageId':
        return text(this.msg.messageId)
      case 'keys':
        return text(this.msg.keys)
      case 'mqttSecondTopic':
        return text(own(this.msg.userProperties, 'mqttSecondTopic'))
      case 'userProperties':
        return text(own(this.msg.userProperties, f.name))
      case 'body':
        return this.bodyAt(f.path)
    }
  }

  private bodyAt(path: string[]): FieldValue {
    if (this.body === UNREAD) {
      const parsed = parseJsonBody(this.msg.body)
      this.body = parsed.ok ? parsed.value : UNREADABLE
      if (!parsed.ok) this.bodyProblem = parsed.reason
    }
    let v = this.body
    if (v === UNREADABLE) return undefined
    for (const step of path) {
      if (Array.isArray(v)) {
        if (!isIndex(step) || !Object.hasOwn(v, step)) return undefined
      } else if (typeof v !== 'object' || v === null || !Object.hasOwn(v, step)) return undefined
      v = (v as Record<string, unknown>)[step]
    }
    if (typeof v === 'string') return text(v)
    if (typeof v === 'boolean') return String(v)
    if (v === null || v === undefined) return undefined
    const n = numberText(v)
    if (n !== undefined) return n
    return { kind: 'structure', what: Array.isArray(v) ? 'a JSON list' : 'a JSON object' }
  }
}

const text = (v: string | undefined | null): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

function own(o: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined
}

/** `0`, `1`, `12`: the canonical array indices (no sign, no leading zero). */
function isIndex(step: string): boolean {
  if (step.length === 0 || step.length > 10 || (step.length > 1 && step[0] === '0')) return false
  for (let i = 0; i < step.length; i++) {
    const c = step.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}
