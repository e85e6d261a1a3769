// Function Compute entry point: stores what could not be delivered. It is the bridge's asynchronous
// destination (onFailure) and the fc: dead-letter target; its timer trigger redrives transient failures
// and applies retention. Thin by design: shared/dead-letters/store/intake.ts recognises the event and does the
// work; a failure to store throws, so Function Compute retries.
import { loadDeadLetterConfig } from '../../shared/config/dead-letter.js'
import { instanceLocalOnFc } from '../../shared/config/env.js'
import { handleDeadLetterEvent, type IntakeSummary } from '../../shared/dead-letters/store/intake.js'
import type { TimerSummary } from '../../shared/dead-letters/store/timer.js'
import { type FcContext, invocationDeadline } from '../../shared/fc/context.js'
import { invocationLogger } from '../../shared/logging/logger.js'

export async function handler(event: unknown, context: FcContext): Promise<IntakeSummary | TimerSummary> {
  const started = Date.now()
  // Read per invocation (cheap), so the local server can point it elsewhere between runs.
  const config = loadDeadLetterConfig(process.env)
  const { log } = invocationLogger(config.logLevel, context)
  if (instanceLocalOnFc(process.env, config.dir)) {
    // Instance-local disk: every dead letter here is lost when Function Compute recycles the instance.
    log.warn({
      event: 'dead-letter.ephemeral-store',
      dir: config.dir,
      note: 'DEAD_LETTER_DIR is instance-local /tmp; mount NAS (s.yaml nasConfig) so dead letters survive',
    })
  }
  // Every file-system call is bounded by what is left of the invocation (a hung NAS mount fails it clearly).
  return handleDeadLetterEvent(config, event, context, log, { deadline: invocationDeadline(started, context) })
}
