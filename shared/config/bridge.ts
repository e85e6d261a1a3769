// The bridge's environment (docs/architecture.md, "Configuration"), parsed by one zod schema at start-up.
// A bad value fails fast with a message naming the variable; secret values are never echoed. A setting
// that would be ignored is refused, so a misconfiguration is never silent.
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError, type ProblemAt } from '../errors.js'
import type { FleetSettings } from '../fleet/settings.js'
import type { LogLevel } from '../logging/logger.js'
import { registerSecret } from '../logging/secrets.js'
import type { MqttAuth } from '../mqtt/auth.js'
import { error } from '../schema-helpers.js'
import {
  cleanEnv,
  DEFAULT_DEAD_LETTER_DIR,
  directoryVariable,
  FUNCTION_NAME,
  fcEndpointVariable,
  instanceLocalOnFc,
  logLevelVariable,
  onFunctionCompute,
  parseEnvironment,
  wholeNumber,
} from './env.js'
import { fleetOf, fleetVariables, registerFleetSecrets } from './fleet.js'

export { DEFAULT_DEAD_LETTER_DIR, onFunctionCompute }

export type ProtocolSetting = 4 | 5 | 'auto'
/** fc: hands dead letters to a function by asynchronous invoke; `endpoint` is FC_ENDPOINT when set. */
/** `ephemeral`: a file: directory on Function Compute's instance-local /tmp (lost with the instance). */
export type DeadLetterTarget = { kind: 'file'; dir: string; ephemeral: boolean } | { kind: 'fc'; functionName: string; endpoint?: string }

export interface BridgeConfig {
  mqttUrl: string
  protocol: ProtocolSetting
  auth: MqttAuth
  /** For mqtts:// and wss://: a CA bundle (MQTT_CA_FILE), or verification off (MQTT_TLS_INSECURE); never both. */
  tls: { ca?: Buffer; insecure: boolean }
  clientIdPrefix: string
  poolSize: number
  rateLimit: number
  publishTimeoutMs: number
  /** MQTT_MAX_IN_FLIGHT: on MQTT 5 the window is the lower of it and the broker's receive maximum. */
  maxInFlight: number
  /** MQTT_MAX_PACKET_SIZE; when unset the bridge takes its default from the rules' profile. */
  maxPacketSize?: number
  rulesFile?: string
  deadLetterTarget: DeadLetterTarget
  logLevel: LogLevel
  /** FLEET_REDIS_URL and its companions; absent: duplicates are suppressed per instance only. */
  fleet?: FleetSettings
}

/** The dead-letter function's name in s.yaml, the default hand-off target on Function Compute. */
export const DEFAULT_DEAD_LETTER_FUNCTION = 'rocketmq-mqtt-dead-letter'

const custom = (ctx: z.RefinementCtx, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message })

const mqttUrl = z.string(error('is required: the broker URL, such as mqtt://127.0.0.1:1883')).superRefine((value, ctx) => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return custom(ctx, 'must be a URL such as mqtt://host:1883, mqtts://host:8883, ws://host/mqtt or wss://host/mqtt')
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol))
    custom(ctx, `must use mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//`)
  if (url.username || url.password) {
    custom(ctx, 'must not contain credentials; set MQTT_AUTH=password with MQTT_USERNAME and MQTT_PASSWORD instead')
  }
})

const common = z.object({
  MQTT_URL: mqttUrl,
  MQTT_PROTOCOL_VERSION: z.enum(['5', '4', 'auto'], error('must be 5, 4 or auto')).default('auto'),
  MQTT_CLIENT_ID_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, "must be 1-40 letters, digits, '-' or '_' (client IDs are <prefix>@@@<unique>, at most 64 characters)")
    .default('GID_bridge'),
  MQTT_POOL_SIZE: wholeNumber(1, 64).default('1'),
  MQTT_RATE_LIMIT: wholeNumber(0, 100000).default('0'),
  MQTT_PUBLISH_TIMEOUT_MS: wholeNumber(100, 600000).default('10000'),
  // MQTT 3.1.1 cannot tell the client its inflight quota or packet limit (docs/reliability.md, "Broker limits").
  MQTT_MAX_IN_FLIGHT: wholeNumber(1, 65535).default('20'),
  MQTT_MAX_PACKET_SIZE: wholeNumber(64, 268435460).optional(),
  MQTT_CA_FILE: z.string().optional(),
  MQTT_TLS_INSECURE: z.enum(['true', 'false'], error('must be true or false')).optional(),
  RULES_FILE: z.string().min(1, 'must be a file path').optional(),
  DEAD_LETTER_TARGET: z
    .string()
    .regex(new RegExp(`^(file:.+|fc:${FUNCTION_NAME.source.slice(1, -1)})$`), 'must be file:<dir> or fc:<function-name>')
    .optional(),
  // The dead-letter function's store; for the bridge, the directory of its default file: target.
  DEAD_LETTER_DIR: directoryVariable.default(DEFAULT_DEAD_LETTER_DIR),
  FC_ENDPOINT: fcEndpointVariable.optional(),
  LOG_LEVEL: logLevelVariable,
})

/** A credential variable this MQTT_AUTH does not use: refused rather than ignored. */
const unused = (auth: string, use: 'password' | 'signature') =>
  z.undefined(error(`is set but MQTT_AUTH is ${auth}; set MQTT_AUTH=${use} to use it`))
const required = (auth: string) => z.string(error(`is required when MQTT_AUTH=${auth}`))

// One schema per way to authenticate: a combination that makes no sense cannot be written.
const auth = z.preprocess(
  (env) => ({ MQTT_AUTH: 'none', ...(env as object) }),
  z.discriminatedUnion(
    'MQTT_AUTH',
    [
      z.object({
        MQTT_AUTH: z.literal('none'),
        MQTT_USERNAME: unused('none', 'password'),
        MQTT_PASSWORD: unused('none', 'password'),
        MQTT_INSTANCE_ID: unused('none', 'signature'),
        MQTT_ACCESS_KEY_ID: unused('none', 'signature'),
        MQTT_ACCESS_KEY_SECRET: unused('none', 'signature'),
      }),
      z.object({
        MQTT_AUTH: z.literal('password'),
        MQTT_USERNAME: required('password'),
        MQTT_PASSWORD: z.string().optional(),
        MQTT_INSTANCE_ID: unused('password', 'signature'),
        MQTT_ACCESS_KEY_ID: unused('password', 'signature'),
        MQTT_ACCESS_KEY_SECRET: unused('password', 'signature'),
      }),
      z.object({
        MQTT_AUTH: z.literal('signature'),
        MQTT_USERNAME: unused('signature', 'password'),
        MQTT_PASSWORD: unused('signature', 'password'),
        MQTT_INSTANCE_ID: required('signature'),
        MQTT_ACCESS_KEY_ID: required('signature'),
        MQTT_ACCESS_KEY_SECRET: required('signature'),
      }),
    ],
    error('must be none, password or signature'),
  ),
)

const schema = z.intersection(z.intersection(common, auth), fleetVariables)

function authOf(e: z.output<typeof auth>): MqttAuth {
  switch (e.MQTT_AUTH) {
    case 'none':
      return { kind: 'none' }
    case 'password':
      return { kind: 'password', username: e.MQTT_USERNAME, ...(e.MQTT_PASSWORD !== undefined ? { password: e.MQTT_PASSWORD } : {}) }
    case 'signature':
      return {
        kind: 'signature',
        instanceId: e.MQTT_INSTANCE_ID,
        accessKeyId: e.MQTT_ACCESS_KEY_ID,
        accessKeySecret: e.MQTT_ACCESS_KEY_SECRET,
      }
  }
}

/** MQTT_CA_FILE and MQTT_TLS_INSECURE: only with TLS, never together, and the CA file readable PEM. */
function tlsOf(e: z.output<typeof common>, problems: ProblemAt[]): BridgeConfig['tls'] {
  const secure = /^(mqtts|wss):/.test(e.MQTT_URL)
  const insecure = e.MQTT_TLS_INSECURE === 'true'
  if (!secure) {
    for (const name of ['MQTT_CA_FILE', 'MQTT_TLS_INSECURE'] as const) {
      if (e[name] !== undefined) problems.push({ path: name, message: 'is set but MQTT_URL does not use TLS (mqtts:// or wss://)' })
    }
    return { insecure: false }
  }
  if (e.MQTT_CA_FILE === undefined) return { insecure }
  if (insecure) {
    problems.push({
      path: 'MQTT_CA_FILE',
      message: 'is set but MQTT_TLS_INSECURE=true turns certificate verification off; set one or the other',
    })
    return { insecure }
  }
  try {
    const ca = readFileSync(e.MQTT_CA_FILE)
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      problems.push({ path: 'MQTT_CA_FILE', message: `${e.MQTT_CA_FILE} holds no PEM certificate` })
    return { ca, insecure }
  } catch (err) {
    problems.push({ path: 'MQTT_CA_FILE', message: `cannot read ${e.MQTT_CA_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` })
    return { insecure }
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  // Registered before parsing, so no error below can carry them; once per value, at start-up.
  const clean = cleanEnv(env)
  registerSecret(clean['MQTT_PASSWORD'])
  registerSecret(clean['MQTT_ACCESS_KEY_SECRET'])
  registerFleetSecrets(clean)
  const e = parseEnvironment(schema, env)
  const problems: ProblemAt[] = []
  const tls = tlsOf(e, problems)
  const fleet = fleetOf(e, problems)
  if (problems.length > 0) throw new ConfigError(problems)

  // Locally the default target is the dead-letter function's own store, DEAD_LETTER_DIR.
  const targetText = e.DEAD_LETTER_TARGET ?? (onFunctionCompute(env) ? `fc:${DEFAULT_DEAD_LETTER_FUNCTION}` : `file:${e.DEAD_LETTER_DIR}`)
  const deadLetterTarget: DeadLetterTarget = targetText.startsWith('fc:')
    ? {
        kind: 'fc',
        functionName: targetText.slice(3),
        ...(e.FC_ENDPOINT !== undefined ? { endpoint: e.FC_ENDPOINT } : {}),
      }
    : { kind: 'file', dir: targetText.slice(5), ephemeral: instanceLocalOnFc(env, targetText.slice(5)) }

  return {
    mqttUrl: e.MQTT_URL,
    protocol: e.MQTT_PROTOCOL_VERSION === 'auto' ? 'auto' : (Number(e.MQTT_PROTOCOL_VERSION) as 4 | 5),
    auth: authOf(e),
    tls,
    clientIdPrefix: e.MQTT_CLIENT_ID_PREFIX,
    poolSize: e.MQTT_POOL_SIZE,
    rateLimit: e.MQTT_RATE_LIMIT,
    publishTimeoutMs: e.MQTT_PUBLISH_TIMEOUT_MS,
    maxInFlight: e.MQTT_MAX_IN_FLIGHT,
    ...(e.MQTT_MAX_PACKET_SIZE !== undefined ? { maxPacketSize: e.MQTT_MAX_PACKET_SIZE } : {}),
    ...(e.RULES_FILE !== undefined ? { rulesFile: e.RULES_FILE } : {}),
    deadLetterTarget,
    logLevel: e.LOG_LEVEL,
    ...(fleet ? { fleet } : {}),
  }
}
