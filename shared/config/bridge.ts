// Every environment variable of docs/architecture.md ("Configuration"), parsed by one zod schema at start-up.
// A bad value fails fast with a message naming the variable; secret values are never echoed.
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError, type ProblemAt } from '../errors.js'
import { registerSecret } from '../logging/secrets.js'
import type { MqttAuth } from '../mqtt/auth.js'
import { error } from '../schema-helpers.js'

export type ProtocolSetting = 4 | 5 | 'auto'
/** fc: hands dead letters to a function by asynchronous invoke; `endpoint` is FC_ENDPOINT when set. */
export type DeadLetterTarget = { kind: 'file'; dir: string } | { kind: 'fc'; functionName: string; endpoint?: string }
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface BridgeConfig {
  mqttUrl: string
  protocol: ProtocolSetting
  auth: MqttAuth
  /** For mqtts:// and wss://: a CA bundle (MQTT_CA_FILE) and whether verification is off (MQTT_TLS_INSECURE). */
  tls: { ca?: Buffer; insecure: boolean }
  clientIdPrefix: string
  poolSize: number
  rateLimit: number
  publishTimeoutMs: number
  rulesFile?: string
  deadLetterTarget: DeadLetterTarget
  deadLetterDir: string
  logLevel: LogLevel
}

/** The dead-letter function's name in s.yaml, the default hand-off target on Function Compute. */
export const DEFAULT_DEAD_LETTER_FUNCTION = 'rocketmq-mqtt-dead-letter'
export const DEFAULT_DEAD_LETTER_DIR = './.dead-letters'

const int = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`)
    .describe(name)

const envSchema = z.object({
  MQTT_URL: z.string(error('is required: the broker URL, such as mqtt://127.0.0.1:1883')).superRefine((value, ctx) => {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return void ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'must be a URL such as mqtt://host:1883, mqtts://host:8883, ws://host/mqtt or wss://host/mqtt',
      })
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol))
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must use mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//` })
    if (url.username || url.password)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'must not contain credentials; set MQTT_AUTH=password with MQTT_USERNAME and MQTT_PASSWORD instead',
      })
  }),
  MQTT_PROTOCOL_VERSION: z.enum(['5', '4', 'auto'], error('must be 5, 4 or auto')).default('auto'),
  MQTT_AUTH: z.enum(['none', 'password', 'signature'], error('must be none, password or signature')).default('none'),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  MQTT_INSTANCE_ID: z.string().optional(),
  MQTT_ACCESS_KEY_ID: z.string().optional(),
  MQTT_ACCESS_KEY_SECRET: z.string().optional(),
  MQTT_CLIENT_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, "must be 1-40 letters, digits, '-' or '_' (client IDs are <prefix>@@@<unique>, at most 64 characters)")
    .default('GID_bridge'),
  // zod 3 parses a default as input, so these are the variables' text; they parse to 1, 0 and 10000.
  MQTT_POOL_SIZE: int('MQTT_POOL_SIZE', 1, 64).default('1'),
  MQTT_RATE_LIMIT: int('MQTT_RATE_LIMIT', 0, 100000).default('0'),
  MQTT_PUBLISH_TIMEOUT_MS: int('MQTT_PUBLISH_TIMEOUT_MS', 100, 600000).default('10000'),
  MQTT_CA_FILE: z.string().optional(),
  MQTT_TLS_INSECURE: z.enum(['true', 'false'], error('must be true or false')).optional(),
  RULES_FILE: z.string().min(1, 'must be a file path').optional(),
  DEAD_LETTER_TARGET: z
    .string()
    .regex(/^(file:.+|fc:[A-Za-z_][A-Za-z0-9_-]{0,127})$/, 'must be file:<dir> or fc:<function-name>')
    .optional(),
  DEAD_LETTER_DIR: z.string().min(1, 'must be a directory path').default(DEFAULT_DEAD_LETTER_DIR),
  FC_ENDPOINT: z
    .string()
    .superRefine((value, ctx) => {
      let url: URL
      try {
        url = new URL(value)
      } catch {
        return void ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'must be a URL such as https://<accountId>.<region>-internal.fc.aliyuncs.com',
        })
      }
      if (!['http:', 'https:'].includes(url.protocol))
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must use http:// or https://, not ${url.protocol}//` })
      if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'must be a bare origin (scheme, host, optional port), without credentials, path or query',
        })
    })
    .optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], error('must be debug, info, warn or error')).default('info'),
})

/** True inside Function Compute, which sets FC_FUNCTION_NAME for every instance. */
export function onFunctionCompute(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['FC_FUNCTION_NAME'])
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  // Empty strings are how s.yaml's ${env(X, '')} says "not set".
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  registerSecret(clean['MQTT_PASSWORD'])
  registerSecret(clean['MQTT_ACCESS_KEY_SECRET'])
  const parsed = envSchema.safeParse(clean)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ path: String(i.path[0] ?? 'environment'), message: i.message })))
  }
  const e = parsed.data
  const problems: ProblemAt[] = []
  const set = (name: keyof typeof e) => e[name] !== undefined
  const unused = (names: Array<keyof typeof e>, why: string) => {
    // A credential that would be ignored is a misconfiguration: say so instead of connecting without it.
    for (const name of names) if (set(name)) problems.push({ path: name, message: `is set but ${why}` })
  }
  if (e.MQTT_AUTH === 'password' && !e.MQTT_USERNAME)
    problems.push({ path: 'MQTT_USERNAME', message: 'is required when MQTT_AUTH=password' })
  if (e.MQTT_AUTH === 'signature') {
    for (const name of ['MQTT_INSTANCE_ID', 'MQTT_ACCESS_KEY_ID', 'MQTT_ACCESS_KEY_SECRET'] as const) {
      if (!set(name)) problems.push({ path: name, message: 'is required when MQTT_AUTH=signature' })
    }
  }
  if (e.MQTT_AUTH !== 'password')
    unused(['MQTT_USERNAME', 'MQTT_PASSWORD'], `MQTT_AUTH is ${e.MQTT_AUTH}; set MQTT_AUTH=password to use it`)
  if (e.MQTT_AUTH !== 'signature')
    unused(
      ['MQTT_INSTANCE_ID', 'MQTT_ACCESS_KEY_ID', 'MQTT_ACCESS_KEY_SECRET'],
      `MQTT_AUTH is ${e.MQTT_AUTH}; set MQTT_AUTH=signature to use it`,
    )

  const secure = /^(mqtts|wss):/.test(e.MQTT_URL)
  if (!secure) unused(['MQTT_CA_FILE', 'MQTT_TLS_INSECURE'], 'MQTT_URL does not use TLS (mqtts:// or wss://)')
  let ca: Buffer | undefined
  if (e.MQTT_CA_FILE !== undefined && secure) {
    try {
      ca = readFileSync(e.MQTT_CA_FILE)
      if (!ca.includes('-----BEGIN CERTIFICATE-----'))
        problems.push({ path: 'MQTT_CA_FILE', message: `${e.MQTT_CA_FILE} holds no PEM certificate` })
    } catch (err) {
      problems.push({
        path: 'MQTT_CA_FILE',
        message: `cannot read ${e.MQTT_CA_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      })
    }
  }

  const targetText =
    e.DEAD_LETTER_TARGET ?? (onFunctionCompute(env) ? `fc:${DEFAULT_DEAD_LETTER_FUNCTION}` : `file:${DEFAULT_DEAD_LETTER_DIR}`)
  const deadLetterTarget: DeadLetterTarget = targetText.startsWith('fc:')
    ? {
        kind: 'fc',
        functionName: targetText.slice(3),
        ...(e.FC_ENDPOINT !== undefined ? { endpoint: e.FC_ENDPOINT.replace(/\/$/, '') } : {}),
      }
    : { kind: 'file', dir: targetText.slice(5) }

  if (problems.length > 0) throw new ConfigError(problems)
  return {
    mqttUrl: e.MQTT_URL,
    protocol: e.MQTT_PROTOCOL_VERSION === 'auto' ? 'auto' : (Number(e.MQTT_PROTOCOL_VERSION) as 4 | 5),
    auth:
      e.MQTT_AUTH === 'password'
        ? { kind: 'password', username: e.MQTT_USERNAME!, ...(e.MQTT_PASSWORD !== undefined ? { password: e.MQTT_PASSWORD } : {}) }
        : e.MQTT_AUTH === 'signature'
          ? {
              kind: 'signature',
              instanceId: e.MQTT_INSTANCE_ID!,
              accessKeyId: e.MQTT_ACCESS_KEY_ID!,
              accessKeySecret: e.MQTT_ACCESS_KEY_SECRET!,
            }
          : { kind: 'none' },
    tls: { ...(ca ? { ca } : {}), insecure: e.MQTT_TLS_INSECURE === 'true' },
    clientIdPrefix: e.MQTT_CLIENT_ID_PREFIX,
    poolSize: e.MQTT_POOL_SIZE,
    rateLimit: e.MQTT_RATE_LIMIT,
    publishTimeoutMs: e.MQTT_PUBLISH_TIMEOUT_MS,
    ...(e.RULES_FILE !== undefined ? { rulesFile: e.RULES_FILE } : {}),
    deadLetterTarget,
    deadLetterDir: e.DEAD_LETTER_DIR,
    logLevel: e.LOG_LEVEL,
  }
}
