// The dead-letter function's environment (docs/architecture.md, "Configuration"): the store, how long it
// keeps entries, and how its timer redrives transient failures through the bridge.
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { BRIDGE_FUNCTION } from '../fc/functions.js'
import type { LogLevel } from '../logging/logger.js'
import {
  DEFAULT_DEAD_LETTER_DIR,
  directoryVariable,
  FUNCTION_NAME,
  fcEndpointVariable,
  logLevelVariable,
  parseEnvironment,
  wholeNumber,
} from './env.js'

export const DEFAULT_RETENTION_DAYS = 30
export const DEFAULT_REDRIVE_MAX_AGE = '24h'
export const DEFAULT_REDRIVE_BACKOFF = '5m'

const DAY_MS = 24 * 60 * 60 * 1000

export interface DeadLetterConfig {
  /** The store: a NAS mount on Function Compute. */
  dir: string
  logLevel: LogLevel
  /** Entries stored more than this many days ago are removed by the timer. */
  retentionDays: number
  redrive: {
    /** Transient entries older than this are marked expired and no longer redriven; 0: redrive is off. */
    maxAgeMs: number
    /** The wait before the first redrive of an entry; it doubles after each failure. */
    backoffMs: number
    bridgeFunction: string
    /** FC_ENDPOINT: where the bridge is invoked; default the region's internal endpoint. */
    endpoint?: string
  }
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS } as const

/** `90s`, `30m`, `24h`, `7d` (or `0` where allowed) in milliseconds. */
const duration = (allowZero: boolean) =>
  z
    .string()
    .regex(
      allowZero ? /^(0|[1-9]\d{0,5}[smhd])$/ : /^[1-9]\d{0,5}[smhd]$/,
      `must be a duration such as 90s, 30m, 24h or 7d${allowZero ? ', or 0' : ''}`,
    )
    .transform((v) => (v === '0' ? 0 : Number(v.slice(0, -1)) * UNIT_MS[v.at(-1) as keyof typeof UNIT_MS]))

const schema = z.object({
  DEAD_LETTER_DIR: directoryVariable.default(DEFAULT_DEAD_LETTER_DIR),
  LOG_LEVEL: logLevelVariable,
  DEAD_LETTER_RETENTION_DAYS: wholeNumber(1, 3650).default(String(DEFAULT_RETENTION_DAYS)),
  DEAD_LETTER_REDRIVE_MAX_AGE: duration(true).default(DEFAULT_REDRIVE_MAX_AGE),
  DEAD_LETTER_REDRIVE_BACKOFF: duration(false).default(DEFAULT_REDRIVE_BACKOFF),
  DEAD_LETTER_BRIDGE_FUNCTION: z.string().regex(FUNCTION_NAME, 'must be a Function Compute function name').default(BRIDGE_FUNCTION),
  FC_ENDPOINT: fcEndpointVariable.optional(),
})

export function loadDeadLetterConfig(env: NodeJS.ProcessEnv = process.env): DeadLetterConfig {
  const e = parseEnvironment(schema, env)
  // Retention removes what redrive would still send: a setting that would be cut short is refused.
  if (e.DEAD_LETTER_REDRIVE_MAX_AGE >= e.DEAD_LETTER_RETENTION_DAYS * DAY_MS)
    throw new ConfigError([
      {
        path: 'DEAD_LETTER_REDRIVE_MAX_AGE',
        message: 'must be shorter than DEAD_LETTER_RETENTION_DAYS, which removes entries before then',
      },
    ])
  return {
    dir: e.DEAD_LETTER_DIR,
    logLevel: e.LOG_LEVEL,
    retentionDays: e.DEAD_LETTER_RETENTION_DAYS,
    redrive: {
      maxAgeMs: e.DEAD_LETTER_REDRIVE_MAX_AGE,
      backoffMs: e.DEAD_LETTER_REDRIVE_BACKOFF,
      bridgeFunction: e.DEAD_LETTER_BRIDGE_FUNCTION,
      ...(e.FC_ENDPOINT !== undefined ? { endpoint: e.FC_ENDPOINT } : {}),
    },
  }
}
