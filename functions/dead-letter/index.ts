// Function Compute entry point: stores what could not be delivered. It is the bridge's asynchronous
// destination (onFailure) and the fc: dead-letter target. Thin by design: shared/dead-letters/intake.ts
// recognises the event and stores it; a failure to store throws, so Function Compute retries.
import { resolve } from 'node:path'
import { loadDeadLetterConfig } from '../../shared/config/dead-letter.js'
import { onFunctionCompute } from '../../shared/config/env.js'
import { type IntakeSummary, storeDeadLetterEvent } from '../../shared/dead-letters/intake.js'
import type { FcContext } from '../../shared/fc/context.js'
import { invocationLogger } from '../../shared/logging/logger.js'

export async function handler(event: unknown, context: FcContext): Promise<IntakeSummary> {
  // Read per invocation (cheap), so the local server can point it elsewhere between runs.
  const { dir, logLevel } = loadDeadLetterConfig(process.env)
  const { log } = invocationLogger(logLevel, context)
  if (onFunctionCompute(process.env) && resolve(dir).startsWith('/tmp/')) {
    // Instance-local disk: every dead letter here is lost when Function Compute recycles the instance.
    log.warn({
      event: 'dead-letter.ephemeral-store',
      dir,
      note: 'DEAD_LETTER_DIR is instance-local /tmp; mount NAS (s.yaml nasConfig) so dead letters survive',
    })
  }
  return storeDeadLetterEvent(dir, event, context, log)
}
