// The fleet store as the bridge sees it (docs/reliability.md, "Exactly once across the fleet"): built once
// per instance when FLEET_REDIS_URL is set, it holds the connection and the fleet's rate limiter, and runs a
// batch's publishes through claims (deliver.ts).
import type { FcContext } from '../fc/context.js'
import type { Logger } from '../logging/logger.js'
import type { Publish } from '../mapping/publish.js'
import { type Clock, systemClock } from '../mqtt/clock.js'
import { FleetConnection } from './connection.js'
import { type FleetOutcome, FleetRun, type PublishChunk } from './deliver.js'
import { messageKey, randomToken } from './keys.js'
import { FleetRateLimiter } from './rate-limiter.js'
import type { FleetSettings } from './settings.js'

export type { FleetOutcome } from './deliver.js'

/** Function Compute's default function timeout, when the context does not say (docs/platform-facts.md §6). */
const DEFAULT_TIMEOUT_S = 60

/** When the invocation certainly ends: its start plus the function's timeout (Function Compute kills it then). */
export function invocationEnd(start: number, context: FcContext | undefined): number {
  return start + (context?.function?.timeout ?? DEFAULT_TIMEOUT_S) * 1000
}

/** A batch on its way through the store (FleetStore.begin). */
export interface FleetBatch {
  /** The next message to publish, in batch order, and its message group (ordered rules). */
  add(publish: Publish, group: string | undefined): void
  /** `settled`: the store updated (a failure is logged, never thrown); the invocation awaits it before it returns. */
  finish(publish: PublishChunk): Promise<{ outcomes: FleetOutcome[]; droppedV5Properties: number; settled: Promise<void> }>
}

export interface FleetCall {
  deadline: number
  end: number
  log: Logger
  /** The content fingerprint of a publish, as the instance's own memory computes it (delivered-memory.ts). */
  fingerprint: (p: Publish) => string
  /** How many messages the batch holds: the most it can add. */
  expected: number
}

export class FleetStore {
  readonly connection: FleetConnection
  private readonly limiter: FleetRateLimiter | undefined
  /** This instance, in the rate limiter's log and in every owner token. */
  readonly instance = randomToken()
  private invocations = 0
  private warned = false

  constructor(
    readonly settings: FleetSettings,
    clock: Clock = systemClock,
  ) {
    this.connection = new FleetConnection(settings, clock)
    this.limiter = settings.rateLimit > 0 ? new FleetRateLimiter(this.connection, settings.rateLimit, this.instance, clock) : undefined
  }

  /** For `initialize`: loads the client and connects. A failure is logged, not thrown: the invocation retries. */
  async warm(deadline: number, log: Logger): Promise<void> {
    this.warnOnce(log)
    try {
      await this.connection.warm(deadline)
    } catch (err) {
      log.warn({ event: 'fleet.connect-failed', reason: (err as Error).message })
    }
  }

  /**
   * One invocation's batch: add() each message as it is planned (its claim travels while the rest is
   * planned), then finish() with the pool for one outcome per message added, in order.
   */
  begin(call: FleetCall): FleetBatch {
    this.warnOnce(call.log)
    const { deadline, end, log, expected } = call
    const run = new FleetRun(this.connection, this.limiter, this.settings.windowMs, {
      deadline,
      end,
      log,
      expected,
      token: `${this.instance}.${++this.invocations}`,
    })
    return {
      add: (p, group) =>
        run.add({ publish: p, group, key: p.messageId === undefined ? undefined : messageKey(p.ruleId, p.messageId, call.fingerprint(p)) }),
      finish: async (publish) => {
        const { outcomes, droppedV5Properties, settled } = await run.finish(publish)
        return { outcomes, droppedV5Properties, settled: settled.then((stats) => log.debug({ event: 'fleet.batch', ...stats })) }
      },
    }
  }

  async close(deadline?: number): Promise<void> {
    await this.connection.close(deadline)
  }

  private warnOnce(log: Logger): void {
    if (this.warned) return
    this.warned = true
    if (this.settings.tls?.insecure) {
      log.warn({
        event: 'fleet.tls-insecure',
        url: this.settings.url,
        note: "FLEET_REDIS_TLS_INSECURE=true: the store's certificate is not verified; anyone on the path can read and alter claims",
      })
    }
  }
}
