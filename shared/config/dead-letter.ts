// The dead-letter function's environment (docs/architecture.md, "Configuration").
import { z } from 'zod'
import type { LogLevel } from '../logging/logger.js'
import { DEFAULT_DEAD_LETTER_DIR, directoryVariable, logLevelVariable, parseEnvironment } from './env.js'

export interface DeadLetterConfig {
  /** The store: a NAS mount on Function Compute. */
  dir: string
  logLevel: LogLevel
}

const schema = z.object({
  DEAD_LETTER_DIR: directoryVariable.default(DEFAULT_DEAD_LETTER_DIR),
  LOG_LEVEL: logLevelVariable,
})

export function loadDeadLetterConfig(env: NodeJS.ProcessEnv = process.env): DeadLetterConfig {
  const e = parseEnvironment(schema, env)
  return { dir: e.DEAD_LETTER_DIR, logLevel: e.LOG_LEVEL }
}
