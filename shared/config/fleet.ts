// The bridge's fleet-store variables (docs/deploying.md, "Environment variables"): FLEET_REDIS_URL and what
// goes with it. Each companion is refused without the URL, and TLS settings without rediss://, so a setting
// is never silently ignored. The password is registered as a secret before anything is parsed.
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { DAY_MS, DURATION, parseDuration } from '../duration.js'
import type { ProblemAt } from '../errors.js'
import { DEFAULT_REDIS_PORT, type FleetSettings } from '../fleet/settings.js'
import { registerSecret } from '../logging/secrets.js'
import { error } from '../schema-helpers.js'
import { wholeNumber } from './env.js'

export const DEFAULT_DUPLICATE_WINDOW = '24h'

const MIN_WINDOW_MS = 1000
const MAX_WINDOW_MS = 30 * DAY_MS

/** `500ms`, `90s`, `30m`, `24h`, `7d`: from 1 s to 30 d, in milliseconds. */
const windowVariable = z
  .string()
  .regex(DURATION, 'must be a duration such as 90s, 30m, 24h or 7d')
  .transform((v) => parseDuration(v)!)
  .refine((ms) => ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS, 'must be from 1s to 30d')

const custom = (ctx: z.RefinementCtx, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message })

const redisUrl = z.string().superRefine((value, ctx) => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return custom(ctx, 'must be a URL such as redis://r-bp1example.redis.rds.aliyuncs.com:6379/0 or rediss://…')
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return custom(ctx, `must use redis:// or rediss://, not ${url.protocol}//`)
  if (url.username || url.password) custom(ctx, 'must not contain credentials; set FLEET_REDIS_USERNAME and FLEET_REDIS_PASSWORD instead')
  if (!url.hostname) custom(ctx, 'must name a host')
  if (!/^(\/(\d{1,5})?)?$/.test(url.pathname)) custom(ctx, 'may end in /<database number> and nothing else')
  if (url.search || url.hash) custom(ctx, 'must not have a query or a fragment')
})

export const fleetVariables = z.object({
  FLEET_REDIS_URL: redisUrl.optional(),
  FLEET_REDIS_USERNAME: z.string().optional(),
  FLEET_REDIS_PASSWORD: z.string().optional(),
  FLEET_REDIS_CA_FILE: z.string().optional(),
  FLEET_REDIS_TLS_INSECURE: z.enum(['true', 'false'], error('must be true or false')).optional(),
  DUPLICATE_WINDOW: windowVariable.optional(),
  FLEET_RATE_LIMIT: wholeNumber(0, 1_000_000).optional(),
})

type FleetVariables = z.output<typeof fleetVariables>

/** Before parsing: the password, and any credential wrongly put in the URL, never appear in an error. */
export function registerFleetSecrets(env: Record<string, string>): void {
  registerSecret(env['FLEET_REDIS_PASSWORD'])
  const url = env['FLEET_REDIS_URL']
  if (url === undefined) return
  try {
    const u = new URL(url)
    registerSecret(u.password)
    registerSecret(decodeURIComponent(u.password))
  } catch {
    // not a URL: refused by the schema, and it holds no parsable password to mask
  }
}

/** The fleet store's settings, or undefined without FLEET_REDIS_URL; problems are added to `problems`. */
export function fleetOf(e: FleetVariables, problems: ProblemAt[]): FleetSettings | undefined {
  if (e.FLEET_REDIS_URL === undefined) {
    for (const name of Object.keys(fleetVariables.shape) as Array<keyof FleetVariables>) {
      if (name !== 'FLEET_REDIS_URL' && e[name] !== undefined)
        problems.push({ path: name, message: 'is set but FLEET_REDIS_URL is not: without it there is no fleet store' })
    }
    return undefined
  }
  const url = new URL(e.FLEET_REDIS_URL)
  const tls = tlsOf(url.protocol === 'rediss:', e, problems)
  return {
    url: e.FLEET_REDIS_URL,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(tls ? { tls } : {}),
    ...(e.FLEET_REDIS_USERNAME !== undefined ? { username: e.FLEET_REDIS_USERNAME } : {}),
    ...(e.FLEET_REDIS_PASSWORD !== undefined ? { password: e.FLEET_REDIS_PASSWORD } : {}),
    windowMs: e.DUPLICATE_WINDOW ?? windowVariable.parse(DEFAULT_DUPLICATE_WINDOW),
    rateLimit: e.FLEET_RATE_LIMIT ?? 0,
  }
}

/** As MQTT_CA_FILE and MQTT_TLS_INSECURE for the broker: only with TLS, never together, the CA file readable PEM. */
function tlsOf(secure: boolean, e: FleetVariables, problems: ProblemAt[]): FleetSettings['tls'] {
  const insecure = e.FLEET_REDIS_TLS_INSECURE === 'true'
  if (!secure) {
    for (const name of ['FLEET_REDIS_CA_FILE', 'FLEET_REDIS_TLS_INSECURE'] as const) {
      if (e[name] !== undefined) problems.push({ path: name, message: 'is set but FLEET_REDIS_URL does not use TLS (rediss://)' })
    }
    return undefined
  }
  if (e.FLEET_REDIS_CA_FILE === undefined) return { insecure }
  if (insecure) {
    problems.push({
      path: 'FLEET_REDIS_CA_FILE',
      message: 'is set but FLEET_REDIS_TLS_INSECURE=true turns certificate verification off; set one or the other',
    })
    return { insecure }
  }
  try {
    const ca = readFileSync(e.FLEET_REDIS_CA_FILE)
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      problems.push({ path: 'FLEET_REDIS_CA_FILE', message: `${e.FLEET_REDIS_CA_FILE} holds no PEM certificate` })
    return { ca, insecure }
  } catch (err) {
    problems.push({
      path: 'FLEET_REDIS_CA_FILE',
      message: `cannot read ${e.FLEET_REDIS_CA_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    })
    return { insecure }
  }
}
