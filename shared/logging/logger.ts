// One JSON object per line. Through context.logger on Function Compute (which adds time, request ID and
// level, as `s logs` shows them), otherwise to stdout. Every line passes through the logger's redactor.
// A logger belongs to one invocation: nothing here is shared, so two invocations in flight on one
// instance never log through each other's context.
import { processSecrets, type Secrets } from './secrets.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

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

export interface LoggerOptions {
  level: LogLevel
  /** context.logger; without it, lines go to stdout (warn and error to stderr) with time, level and request ID. */
  sink?: FcLogger | undefined
  requestId?: string | undefined
  secrets?: Secrets
}

/** A class, not closures: one is made per invocation, on the hot path. */
class JsonLogger implements Logger {
  private readonly secrets: Secrets

  constructor(private readonly options: LoggerOptions) {
    this.secrets = options.secrets ?? processSecrets
  }

  private write(at: LogLevel, fields: LogFields): void {
    if (ORDER[at] < ORDER[this.options.level]) return
    const { sink, requestId } = this.options
    if (sink) {
      sink[at](this.secrets.redact(JSON.stringify(fields)))
      return
    }
    const line = this.secrets.redact(
      JSON.stringify({ time: new Date().toISOString(), level: at, ...(requestId ? { requestId } : {}), ...fields }),
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

export function createLogger(options: LoggerOptions): Logger {
  return new JsonLogger(options)
}

/** What an invocation's logger and its errors need from the Function Compute context. */
export interface InvocationContextLike {
  requestId?: string
  logger?: FcLogger
  credentials?: { accessKeySecret?: string; securityToken?: string }
}

/**
 * The logger of one invocation, and the redactor its errors go through: the process's secrets plus the
 * invocation's own STS credentials. Function Compute's logger adds the request ID itself.
 */
export function invocationLogger(level: LogLevel, context: InvocationContextLike | undefined): { log: Logger; secrets: Secrets } {
  const secrets = processSecrets.with(context?.credentials?.accessKeySecret, context?.credentials?.securityToken)
  const sink = context?.logger
  return { log: createLogger({ level, sink, requestId: sink ? undefined : context?.requestId, secrets }), secrets }
}
