// What a synchronous invoke of the bridge answers: its summary (summary.ts), checked before anything reads
// it. Redrive, replay and the smoke test go by it.
import { FcInvokeError } from '../errors.js'
import type { Summary } from './summary.js'

/** The body as the bridge's summary; FcInvokeError when it is not one (`who`: the function, and the request). */
export function bridgeSummaryOf(body: unknown, who: string): Summary {
  const s = body as Partial<Summary> | null
  if (typeof s === 'object' && s !== null && typeof s.published === 'number' && typeof s.deadLettered === 'number') return s as Summary
  let shown: string
  try {
    shown = JSON.stringify(body) ?? String(body)
  } catch {
    shown = typeof body
  }
  throw new FcInvokeError(`${who} answered with something that is not a bridge summary: ${shown.slice(0, 200)}`)
}
