// Function Compute entry point: RocketMQ trigger event -> MQTT publishes. Thin by design: the bridge
// (and its connection pool) is built once per instance and reused by every warm invocation.
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import type { FcContext } from '../../shared/fc/context.js'
import { invocationLogger } from '../../shared/logging/logger.js'
import { bundledRules } from './bundled-rules.js'

/** How long preStop waits for the pool to close: less than the hook's timeout in s.yaml (instanceLifecycleConfig.preStop). */
export const PRE_STOP_BUDGET_MS = 8000

let bridge: Bridge | undefined

function instance(): Bridge {
  // Invalid configuration or rules throw here, at cold start, with every problem listed.
  bridge ??= Bridge.fromEnvironment(process.env, bundledRules)
  return bridge
}

export async function initialize(context: FcContext): Promise<void> {
  await instance().initialize(context)
}

export async function handler(event: unknown, context: FcContext): Promise<Summary> {
  return instance().handle(event, context)
}

/**
 * The preStop hook: Function Compute runs it before it reclaims the instance. The pool ends every connection
 * with DISCONNECT, so the broker sees a client that left, not one that dropped (which would fire its will
 * and keep its session as if it were coming back). Bounded, so the hook ends within its timeout.
 */
export async function preStop(context?: FcContext): Promise<void> {
  const b = bridge
  bridge = undefined
  if (!b) return
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  let failure: string | undefined
  const outcome = await Promise.race([
    // The pool cuts what still waits for acknowledgements just before the budget ends.
    b
      .close(started + PRE_STOP_BUDGET_MS - 250)
      .then(() => 'closed' as const)
      .catch((err: unknown) => {
        // Still logged: the hook must end, and say why the broker saw the rest as dropped.
        failure = err instanceof Error ? err.message : String(err)
        return 'failed' as const
      }),
    new Promise<'timed out'>((resolve) => {
      timer = setTimeout(() => resolve('timed out'), PRE_STOP_BUDGET_MS)
    }),
  ])
  clearTimeout(timer)
  const { log } = invocationLogger(b.config.logLevel, context)
  const line = {
    event: 'bridge.pre-stop',
    requestId: context?.requestId ?? null,
    connections: b.pool.clientIds.length,
    outcome,
    durationMs: Date.now() - started,
  }
  if (outcome === 'closed') log.info(line)
  else if (outcome === 'failed')
    log.warn({ ...line, error: failure, note: 'the pool failed to close; the broker sees the rest as dropped' })
  else log.warn({ ...line, note: `the pool did not close within ${PRE_STOP_BUDGET_MS} ms; the broker sees the rest as dropped` })
}

/** Closes the pool; for local runs and tests. On Function Compute, preStop does this. */
export async function shutdown(): Promise<void> {
  const b = bridge
  bridge = undefined
  await b?.close()
}
