// The records that cross from the bridge's hand-off to the dead-letter function's store, and the verdict
// ledger the bridge's DeliveryError carries, so each member of a failed batch is stored by its own verdict.
import { z } from 'zod'
import type { PoisonEntry } from '../events/message.js'

/** One message that cannot be delivered; `expired`: past its delivery deadline, `ageMs` old, never redriven. */
export type DeadLetter = PoisonEntry & { ruleId?: string; failure?: 'expired'; ageMs?: number }

/** A dead letter without its event: what a log line or the preview shows. */
export type DeadLetterInfo = Omit<DeadLetter, 'event'>

/** What the bridge sends to the dead-letter function (and what a file: target stores directly). */
export type PoisonRecord = { kind: 'rocketmq-mqtt-bridge.poison'; requestId: string; failedAt: string; messages: DeadLetter[] }

/** .int() takes integers past 2^53 - 1, which JSON numbers cannot hold exactly: safe() refuses them. */
const safeInt = () => z.number().int().safe()

/** One slice of a dead letter too big for one asynchronous invoke: `data`, of the base64 of its event's JSON. */
export const poisonPartRecordSchema = z.object({
  kind: z.literal('rocketmq-mqtt-bridge.poison-part'),
  requestId: z.string(),
  failedAt: z.string(),
  message: z.object({
    index: z.number().finite(),
    reason: z.string(),
    ruleId: z.string().optional(),
    messageId: z.string().optional(),
    wholeEvent: z.literal(true).optional(),
    eventText: z.literal(true).optional(),
    lossy: z.literal(true).optional(),
    failure: z.literal('expired').optional(),
    ageMs: z.number().finite().optional(),
  }),
  part: z.object({
    index: safeInt().min(0),
    count: safeInt().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: safeInt().min(0),
    data: z.string(),
  }),
})
export type PoisonPartRecord = z.infer<typeof poisonPartRecordSchema>

/** What became of one entry of a batch; `not-handed-off`: dead-lettered, but its hand-off failed. */
export type Verdict = 'published' | 'duplicate' | 'filtered' | 'expired' | 'dead-letter' | 'not-handed-off' | 'failed'

const CODES: Record<Verdict, string> = {
  published: 'p',
  duplicate: 'd',
  filtered: 'f',
  expired: 'e',
  'dead-letter': 'x',
  'not-handed-off': 'h',
  failed: 't',
}
const VERDICTS = new Map(Object.entries(CODES).map(([v, c]) => [c, v as Verdict]))
const LEDGER = /\[verdicts v1 ((?:[a-z]\d*)*)\]/

/** One verdict per entry in batch order, run-length coded (`[verdicts v1 p998t2]`): at most a character each. */
export function verdictLedger(verdicts: readonly Verdict[]): string {
  let out = ''
  for (let i = 0; i < verdicts.length; ) {
    let n = 1
    while (verdicts[i + n] === verdicts[i]) n++
    out += CODES[verdicts[i]!] + (n > 1 ? String(n) : '')
    i += n
  }
  return `[verdicts v1 ${out}]`
}

/** The verdicts of a ledger found in `text` (an error message), or undefined when it holds none that reads. */
export function readVerdicts(text: string): Verdict[] | undefined {
  const m = LEDGER.exec(text)
  if (!m) return undefined
  const out: Verdict[] = []
  for (const [, code, count] of m[1]!.matchAll(/([a-z])(\d*)/g)) {
    const v = VERDICTS.get(code!)
    const n = count ? Number(count) : 1
    if (v === undefined || !Number.isSafeInteger(n) || n < 1 || out.length + n > 1_000_000) return undefined
    for (let k = 0; k < n; k++) out.push(v)
  }
  return out
}

/** The text with its ledger taken out: what a person reads. */
export const withoutLedger = (text: string) => text.replace(LEDGER, '').trim()
