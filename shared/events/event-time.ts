// When a message was sent, as far as its event says: the basis of a delivery deadline when the rule names no
// `deadlineFrom` (docs/rules.md, "Delivery deadlines"). A CloudEvent's `time`; where the shape has no usable
// time (raw data), the earliest documented time it carries: BORN_TIMESTAMP (when the producer sent it), else
// CONSUME_START_TIME (when EventBridge began consuming it), both epoch milliseconds.

export type TimeBasis = 'time' | 'BORN_TIMESTAMP' | 'CONSUME_START_TIME'

export interface EventTime {
  at: number
  from: TimeBasis
}

/** Epoch milliseconds as a number or as digits, or ISO 8601 with a date and a time zone; undefined otherwise. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  if (/^\d{1,15}$/.test(value)) {
    const n = Number(value)
    return n > 0 ? n : undefined
  }
  // ISO 8601 with a time zone: Date.parse alone would take "May 5" or a local time as well.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined
  const t = Date.parse(value)
  return Number.isFinite(t) ? t : undefined
}

export function eventTimeOf(cloudEventTime: string | undefined, system: Record<string, unknown> | undefined): EventTime | undefined {
  const time = cloudEventTime === undefined ? undefined : parseTimestamp(cloudEventTime)
  if (time !== undefined) return { at: time, from: 'time' }
  const born = parseTimestamp(system?.['BORN_TIMESTAMP'])
  const consumed = parseTimestamp(system?.['CONSUME_START_TIME'])
  if (born !== undefined && (consumed === undefined || born <= consumed)) return { at: born, from: 'BORN_TIMESTAMP' }
  return consumed === undefined ? undefined : { at: consumed, from: 'CONSUME_START_TIME' }
}
