// The validate-rules function's environment (docs/architecture.md, "Configuration").
import { z } from 'zod'
import type { LogLevel } from '../logging/logger.js'
import { logLevelVariable, parseEnvironment } from './env.js'

export interface ValidateRulesConfig {
  logLevel: LogLevel
}

const schema = z.object({ LOG_LEVEL: logLevelVariable })

export function loadValidateRulesConfig(env: NodeJS.ProcessEnv = process.env): ValidateRulesConfig {
  return { logLevel: parseEnvironment(schema, env).LOG_LEVEL }
}
