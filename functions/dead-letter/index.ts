// Function Compute entry point: stores what could not be delivered. It is the bridge's asynchronous
// destination (onFailure) and the fc: dead-letter target. Thin by design: shared/dead-letter-intake.ts
// recognises the event and stores it; a failure to store throws, so Function Compute retries.
import { resolve } from 'node:path'
import { DEFAULT_DEAD_LETTER_DIR, type LogLevel, onFunctionCompute } from '../../shared/config/bridge.js'
import { type IntakeSummary, storeDeadLetterEvent } from '../../shared/dead-letters/intake.js'
import { ConfigError } from '../../shared/errors.js'
import type { FcContext } from '../../shared/fc/context.js'
import { createLogger } from '../../shared/logging/logger.js'

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** DEAD_LETTER_DIR and LOG_LEVEL, read per invocation (cheap) so a local server can point it elsewhere. */
function settings(env: NodeJS.ProcessEnv): { dir: string; level: LogLevel } {
  const dir = env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR
  const level = (env['LOG_LEVEL'] || 'info') as LogLevel
  if (!LEVELS.includes(level)) throw new ConfigError([{ path: 'LOG_LEVEL', message: 'must be debug, info, warn or error' }])
  return { dir, level }
}

export async function handler(event: unknown, context: FcContext): Promise<IntakeSummary> {
  const { dir, level } = settings(process.env)
  const log = createLogger(level, context?.logger, context?.logger ? undefined : context?.requestId)
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
