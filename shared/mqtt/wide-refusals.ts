// Refusals that can answer everything a deployment sends (docs/reliability.md, "Poison isolation"): 0x87 Not
// authorized and 0x83 Implementation specific error single a message out only when the broker is known to take
// this bridge's publishes. An ACL that denies every parent topic answers each message 0x87, and dead-lettering
// them all would park the stream silently. So such a refusal is the message's fault (refused) only with
// evidence that the broker accepts this bridge's publishes: a QoS 1 or 2 message acknowledged with success in
// the same pool.publish call, on any connection, or by this pool within ACCEPTANCE_EVIDENCE_MS (a QoS 0
// "delivered" proves nothing: nothing answers it). Without it, each one fails as transient and the
// invocation is retried. The other poison codes (0x90, 0x95, 0x99, 0x9A, 0x9B) describe the message itself.
//
// Order: where the verdict is made. The publish window treats a refused message as a dead letter (it releases
// its message group, group-order.ts, and blocks nothing of its topic, topic-order.ts) and a failed one as a
// retry (its group breaks: nothing later of it is written). Turning a refusal into a failure after the call
// would come too late for a group: its later messages went out meanwhile, and although a QoS 1 or 2 one
// delivered would be evidence, a QoS 0 one proves nothing, so a subscriber could get it while the earlier
// message waits for the retry (docs/rules.md, "Ordered delivery per message group", says that never happens).
// So a grouped message's refusal is judged when it comes (`judgedNow`, from the acknowledgement ledger and
// from isolation), on the evidence known then (this pool's acceptances so far, this call's included), and
// stands: evidence that comes later in the call only means a retry, which then finds it. Messages without a
// group are judged once the call is in (`judgeWideRefusals`), on all of its evidence; a later QoS 0 message
// of the topic reported delivered fails with the refusal, so that the retry sends it after the earlier one
// (it may arrive twice). Topic order is kept only for what was not yet written when a failure became known
// (topic-order.ts): this is no weaker.
import { redact } from '../logging/secrets.js'
import type { Publish } from '../mapping/publish.js'
import type { Clock } from './clock.js'
import type { PublishOutcome } from './outcome.js'
import { reasonName } from './reason-codes.js'

/** Codes a broker may answer every message of a deployment with (an ACL, an authorization plugin, a policy). */
export const DEPLOYMENT_WIDE_CODES: ReadonlySet<number> = new Set([0x83, 0x87])

/** How long an acknowledged QoS 1 or 2 publish of this pool proves that the broker takes its publishes. */
export const ACCEPTANCE_EVIDENCE_MS = 10 * 60 * 1000

const MINUTES = ACCEPTANCE_EVIDENCE_MS / 60_000
const ADVICE = "check the broker's ACL / authorization for the bridge's user on the rules' parent topics"

/** When the broker last acknowledged a QoS 1 or 2 publish of this pool with success (the pool's clock). */
export class AcceptanceEvidence {
  private lastAt: number | undefined

  constructor(private readonly clock: Clock) {}

  /** Whether the broker took a QoS 1 or 2 publish of this pool within ACCEPTANCE_EVIDENCE_MS. */
  get recent(): boolean {
    return this.lastAt !== undefined && this.clock.now() - this.lastAt < ACCEPTANCE_EVIDENCE_MS
  }

  /** The broker acknowledged a QoS 1 or 2 publish of this pool with success, now. */
  accepted(): void {
    this.lastAt = this.clock.now()
  }
}

/** Whether `o` is a refusal with a code that can answer everything a deployment sends. */
export function isWide(o: PublishOutcome): o is Extract<PublishOutcome, { kind: 'refused' }> & { code: number } {
  return o.kind === 'refused' && o.code !== undefined && DEPLOYMENT_WIDE_CODES.has(o.code)
}

/** A grouped message's refusal, judged as it comes: without evidence so far, a transient failure that stops its group. */
export function judgedNow(o: PublishOutcome, acceptance: AcceptanceEvidence): PublishOutcome {
  if (!isWide(o) || acceptance.recent) return o
  return {
    kind: 'failed',
    reason: redact(
      `${o.reason}; nothing singles this message out: the broker had acknowledged no QoS 1 or 2 publish of this bridge in the last ${MINUTES} minutes, so the refusal may apply to everything it sends (${ADVICE}); its message group stops here and the invocation is retried`,
    ),
    code: o.code,
  }
}

/** What `judgeWideRefusals` turned into transient failures, for the one `mqtt.broker-trouble` line. */
export interface WideRefusalVerdict {
  failed: number
  why: string
}

/** Whether a QoS 1 or 2 message of this call was acknowledged with success. */
export function acceptedIn(items: readonly Publish[], outcomes: readonly PublishOutcome[]): boolean {
  return items.some((p, i) => p.qos > 0 && outcomes[i]?.kind === 'delivered')
}

/**
 * Without `evidence`, every refusal of this call with a deployment-wide code becomes a transient failure, and
 * so does every later message of its topic reported delivered (see the order note above); grouped messages
 * were judged as their refusal came (`judgedNow`) and are only counted. Changes `outcomes` in place; what the
 * `mqtt.broker-trouble` line says, or undefined when no refusal was a transient failure.
 */
export function judgeWideRefusals(
  items: readonly Publish[],
  outcomes: PublishOutcome[],
  groups: readonly (string | undefined)[] | undefined,
  evidence: boolean,
): WideRefusalVerdict | undefined {
  const codes = new Set<number>()
  /** Per topic: the converted message's code, which its later ones cite. */
  const blocked = new Map<string, string>()
  let failed = 0
  items.forEach((p, i) => {
    const o = outcomes[i]!
    if (groups?.[i] !== undefined) {
      // Judged as its refusal came (`judgedNow`): counted for the log line, nothing more.
      if (o.kind === 'failed' && o.code !== undefined) {
        codes.add(o.code)
        failed++
      }
      return
    }
    if (!evidence && isWide(o)) {
      codes.add(o.code)
      outcomes[i] = {
        kind: 'failed',
        reason: redact(
          `${o.reason}; nothing singles this message out: the broker acknowledged no QoS 1 or 2 publish of this bridge in this invocation or the last ${MINUTES} minutes, so the refusal may apply to everything it sends (${ADVICE}); the invocation is retried`,
        ),
        code: o.code,
      }
      failed++
      if (!blocked.has(p.topic)) blocked.set(p.topic, reasonName(o.code))
      return
    }
    const cause = blocked.get(p.topic)
    if (cause === undefined || o.kind !== 'delivered') return
    outcomes[i] = {
      kind: 'failed',
      reason: `not counted as delivered: an earlier message of its topic was refused with ${cause}, which nothing singles out, and is retried; this one is retried after it, so that the topic keeps its order (a QoS 0 message may arrive twice)`,
    }
    failed++
  })
  if (failed === 0) return undefined
  const named = [...codes].map(reasonName).join(' and ')
  return {
    failed,
    why: `the broker refused publishes with ${named} before anything showed that it takes this bridge's publishes (no QoS 1 or 2 publish acknowledged in the ${MINUTES} minutes before each was judged): nothing singles a message out (${ADVICE})`,
  }
}
