// What every function's configuration shares: reading the environment through one zod schema per
// function, with errors that name the variable and never echo a value.
import { resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { LOG_LEVELS } from '../logging/logger.js'
import { error } from '../schema-helpers.js'

/** The directory the dead-letter function stores into, and a file: target's default. */
export const DEFAULT_DEAD_LETTER_DIR = './.dead-letters'

/** Empty strings are how s.yaml's env(X, '') says "not set". */
export function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v
  return out
}

/** True inside Function Compute, which sets FC_FUNCTION_NAME for every instance. */
export function onFunctionCompute(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['FC_FUNCTION_NAME'])
}

/**
 * True when `dir` is Function Compute's instance-local /tmp: whatever is stored there is lost when the
 * instance is reclaimed. Outside Function Compute, /tmp is the user's own disk.
 */
export function instanceLocalOnFc(env: NodeJS.ProcessEnv, dir: string): boolean {
  const full = resolve(dir)
  return onFunctionCompute(env) && (full === '/tmp' || full.startsWith('/tmp/'))
}

/** A variable holding a whole number in [min, max]. zod 3 parses a default as input: defaults are text. */
export const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`)

export const logLevelVariable = z.enum(LOG_LEVELS, error('must be debug, info, warn or error')).default('info')

export const directoryVariable = z.string().min(1, 'must be a directory path')

/** A Function Compute function's name (its own rules: a letter or '_' first, then up to 127 of [A-Za-z0-9_-]). */
export const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/

/** FC_ENDPOINT: the origin of the Function Compute API, without a trailing slash. */
export const fcEndpointVariable = z
  .string()
  .superRefine((value, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message })
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return problem('must be a URL such as https://<accountId>.<region>-internal.fc.aliyuncs.com')
    }
    if (!['http:', 'https:'].includes(url.protocol)) problem(`must use http:// or https://, not ${url.protocol}//`)
    if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
      problem('must be a bare origin (scheme, host, optional port), without credentials, path or query')
    }
  })
  .transform((value) => value.replace(/\/$/, ''))

/** Parses the environment with `schema`; every problem at once, each naming its variable. */
export function parseEnvironment<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(cleanEnv(env))
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ path: String(i.path[0] ?? 'environment'), message: i.message })))
  }
  return parsed.data
}
