// What a synchronous invoke of the bridge answers: its summary (shared/bridge/summary.ts), checked before
// anything reads it. Redrive, replay and the smoke test go by it; they never import the bridge itself.
import { FcInvokeError } from '../errors.js'

/** The fields of the bridge's summary its callers read. */
export interface BridgeAnswer {
  requestId?: string
  received?: number
  published: number
  deadLettered: number
  duplicates?: number
  filtered?: number
  durationMs?: number
  rules?: Record<string, number>
}

/** The body as the bridge's answer; FcInvokeError when it is not one (`who`: the function, and the request). */
export function bridgeAnswerOf(body: unknown, who: string): BridgeAnswer {
  const s = body as Partial<BridgeAnswer> | null
  if (typeof s === 'object' && s !== null && typeof s.published === 'number' && typeof s.deadLettered === 'number') return s as BridgeAnswer
  let shown: string
  try {
    shown = JSON.stringify(body) ?? String(body)
  } catch {
    shown = typeof body
  }
  throw new FcInvokeError(`${who} answered with something that is not a bridge summary: ${shown.slice(0, 200)}`)
}
