// The values routes read from one message (docs/rules.md, "Templates"). The body is parsed as JSON at
// most once by JSON.parse, and only when a route reads it; a number read from it is its text as the producer
// wrote it (json-body.ts says how, and when the body is read a second time for that); a body path reads
// own properties only, so `__proto__` or `constructor` in a path finds nothing the message did not carry.
import type { RocketMessage } from '../events/message.js'
import type { Field, FieldReader, FieldValue } from '../rules/fields.js'
import { exactJsonBody, numbersReadBack, numberText, parseJsonBody } from './json-body.js'

const UNREAD: unique symbol = Symbol('unread')
const UNREADABLE: unique symbol = Symbol('unreadable')

export class MessageFields implements FieldReader {
  private body: unknown = UNREAD
  /** Whether the body's numbers are known to be as written: checked when the first number is read. */
  private exact = false
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
    if (this.body === UNREADABLE) return undefined
    let v = at(this.body, path)
    if (typeof v === 'number' && !this.exact) {
      this.exact = true
      // JSON.parse rounds a number to a double: if any number in the body reads back otherwise, read it again.
      if (!numbersReadBack(this.msg.body)) {
        const parsed = exactJsonBody(this.msg.body)
        this.body = parsed.ok ? parsed.value : UNREADABLE
        if (!parsed.ok) {
          this.bodyProblem = parsed.reason
          return undefined
        }
        v = at(this.body, path)
      }
    }
    if (typeof v === 'string') return text(v)
    if (typeof v === 'boolean') return String(v)
    if (v === null || v === undefined) return undefined
    const n = numberText(v)
    if (n !== undefined) return n
    return { kind: 'structure', what: Array.isArray(v) ? 'a JSON list' : 'a JSON object' }
  }
}

/** The value at a body path, own properties only; undefined when there is none. */
function at(body: unknown, path: string[]): unknown {
  let v = body
  for (const step of path) {
    if (Array.isArray(v)) {
      if (!isIndex(step) || !Object.hasOwn(v, step)) return undefined
    } else if (typeof v !== 'object' || v === null || !Object.hasOwn(v, step)) return undefined
    v = (v as Record<string, unknown>)[step]
  }
  return v
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
