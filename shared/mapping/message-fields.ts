// The values routes read from one message (docs/rules.md, "Templates"). The body is parsed as JSON at
// most once, and only when a route reads it; a body path reads own properties only, so `__proto__` or
// `constructor` in a path finds nothing the message did not carry.
import type { RocketMessage } from '../events/message.js'
import type { Field } from '../rules/fields.js'

/** A JSON object or list found at a body path: there is no text to fill in or compare. */
export interface NotText {
  notText: 'a JSON object' | 'a JSON list'
}

/** Text; or undefined when the message has no such field, or it is empty or JSON null. */
export type FieldValue = string | undefined | NotText

const UNREAD: unique symbol = Symbol('unread')
const NOT_JSON: unique symbol = Symbol('not JSON')

export class MessageFields {
  private body: unknown = UNREAD

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

  /** Whether a body field was read and the body turned out not to be JSON. */
  get bodyIsNotJson(): boolean {
    return this.body === NOT_JSON
  }

  private bodyAt(path: string[]): FieldValue {
    if (this.body === UNREAD) {
      try {
        this.body = JSON.parse(this.msg.body)
      } catch {
        this.body = NOT_JSON
      }
    }
    let v = this.body
    if (v === NOT_JSON) return undefined
    for (const step of path) {
      if (Array.isArray(v)) {
        if (!isIndex(step) || !Object.hasOwn(v, step)) return undefined
      } else if (typeof v !== 'object' || v === null || !Object.hasOwn(v, step)) return undefined
      v = (v as Record<string, unknown>)[step]
    }
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined
    if (typeof v === 'boolean') return String(v)
    if (Array.isArray(v)) return { notText: 'a JSON list' }
    if (typeof v === 'object' && v !== null) return { notText: 'a JSON object' }
    return text(v as string | undefined | null)
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
