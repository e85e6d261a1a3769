// One JSON object per line. Through context.logger on Function Compute (which adds time, request ID and
// level, as `s logs` shows them), otherwise to stdout. Every line passes through redact().
import type { LogLevel } from './config.js'
import { redact } from './secrets.js'

/** The logger Function Compute puts on the context. */
export interface FcLogger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export type LogFields = { event: string } & Record<string, unknown>

export interface Logger {
  debug(fields: LogFields): void
  info(fields: LogFields): void
  warn(fields: LogFields): void
  error(fields: LogFields): void
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

export function createLogger(level: LogLevel, sink?: FcLogger, requestId?: string): Logger {
  const write = (at: LogLevel, fields: LogFields) => {
    if (ORDER[at] < ORDER[level]) return
    if (sink) return sink[at](redact(JSON.stringify(fields)))
    const line = redact(JSON.stringify({ time: new Date().toISOString(), level: at, ...(requestId ? { requestId } : {}), ...fields }))
    if (at === 'error' || at === 'warn') console.error(line)
    else console.log(line)
  }
  return {
    debug: (f) => write('debug', f),
    info: (f) => write('info', f),
    warn: (f) => write('warn', f),
    error: (f) => write('error', f),
  }
}
