// One JSON object per line. Through context.logger on Function Compute (which adds time, request ID and
// level, as `s logs` shows them), otherwise to stdout. Every line passes through redact().
import type { LogLevel } from '../config/bridge.js'
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

/** A class, not closures: one is made per invocation, on the hot path. */
class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly sink: FcLogger | undefined,
    private readonly requestId: string | undefined,
  ) {}

  private write(at: LogLevel, fields: LogFields): void {
    if (ORDER[at] < ORDER[this.level]) return
    if (this.sink) {
      this.sink[at](redact(JSON.stringify(fields)))
      return
    }
    const line = redact(
      JSON.stringify({ time: new Date().toISOString(), level: at, ...(this.requestId ? { requestId: this.requestId } : {}), ...fields }),
    )
    if (at === 'error' || at === 'warn') console.error(line)
    else console.log(line)
  }

  debug(fields: LogFields): void {
    this.write('debug', fields)
  }

  info(fields: LogFields): void {
    this.write('info', fields)
  }

  warn(fields: LogFields): void {
    this.write('warn', fields)
  }

  error(fields: LogFields): void {
    this.write('error', fields)
  }
}

export function createLogger(level: LogLevel, sink?: FcLogger, requestId?: string): Logger {
  return new JsonLogger(level, sink, requestId)
}
