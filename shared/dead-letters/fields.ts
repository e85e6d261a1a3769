// Checks on the fields of what reaches the dead-letter function, one field at a time: a field that is
// not usable as sent (a time of 1e20 ms, a count of -3, a number where text belongs) is replaced by a
// safe value and noted, never thrown over, so one bad field cannot cost the record or its neighbours.

/** Collects what was replaced, for the entry's `note`. */
export class Notes {
  private readonly items: string[] = []

  add(text: string): void {
    if (this.items.length < 10) this.items.push(text)
  }

  text(): string | undefined {
    return this.items.length > 0 ? this.items.join('; ') : undefined
  }

  /** `{ note }` when there is one, for spreading into an entry. */
  field(): { note?: string } {
    const t = this.text()
    return t === undefined ? {} : { note: t }
  }

  with(...more: Array<string | undefined>): Notes {
    const n = new Notes()
    for (const i of [...this.items, ...more]) if (i !== undefined) n.add(i)
    return n
  }
}

const shown = (v: unknown) => {
  let s: string
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v))
  } catch {
    s = Array.isArray(v) ? 'an array' : typeof v
  }
  return s.length > 60 ? `${s.slice(0, 60)}…` : s
}

/** Times later than this after receipt are not believed (clocks drift; 1e20 ms is not a time). */
const FUTURE_SLACK_MS = 24 * 60 * 60 * 1000

/** An ISO time from text or epoch milliseconds; anything unusable becomes `fallback`, with a note. */
export function timeField(value: unknown, name: string, fallback: Date, notes: Notes): string {
  if (value === undefined) return fallback.toISOString()
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (Number.isFinite(ms) && ms >= 0 && ms <= fallback.getTime() + FUTURE_SLACK_MS) return new Date(ms).toISOString()
  notes.add(`${name} ${shown(value)} is not a usable time: the time it was received is used`)
  return fallback.toISOString()
}

/** A whole number in [min, max], or `fallback`, with a note. */
export function countField(value: unknown, name: string, min: number, max: number, fallback: number, notes: Notes): number {
  if (value === undefined) return fallback
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value
  notes.add(`${name} ${shown(value)} is not a whole number from ${min} to ${max}: ${fallback} is used`)
  return fallback
}

/** Text of at most `max` characters, or nothing, with a note. */
export function textField(value: unknown, name: string, notes: Notes, max = 2000): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') {
    if (value.length <= max) return value
    notes.add(`${name} was cut at ${max} characters`)
    return `${value.slice(0, max)}…`
  }
  notes.add(`${name} ${shown(value)} is not text: left out`)
  return undefined
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
