// Invoking a Function Compute 3.0 function through @alicloud/fc2, the way the fc3 component does it:
// an fc2 client with version 2023-03-30 and the generic signed POST to /functions/<name>/invocations.
// @alicloud/fc2 costs about 70 ms to load (docs/architecture.md, "Packages"), so it is imported on first use only:
// the bridge pays for it when it hands off a dead letter, never on its cold path.
import type FCClient from '@alicloud/fc2'
import { FcInvokeError, messageOf } from '../errors.js'
import { processSecrets, type Secrets } from '../logging/secrets.js'
import type { FcContext, FcCredentials } from './context.js'

export type InvocationType = 'Sync' | 'Async'

export interface FcInvokerOptions {
  accountId: string
  region: string
  credentials: FcCredentials
  /** Defaults to the region's internal endpoint, for calls from inside Function Compute. */
  endpoint?: string
  /** The longest one call may take (10 s by default); a call can ask for less (InvokeOptions). */
  timeoutMs?: number
  /** What masks secrets in its errors; the credentials above are always masked too. */
  secrets?: Secrets
}

export interface InvokeOptions {
  /** This call's bound, instead of the invoker's: what is left before the caller's own deadline. */
  timeoutMs?: number
}

export interface InvokeResult {
  status: 'ok'
  requestId?: string
  /** The function's result: parsed JSON, or text. */
  body: unknown
}

let loading: Promise<typeof FCClient> | undefined

/** Loads @alicloud/fc2 once per process. esbuild keeps the module's code unevaluated until this runs. */
export function loadFc2(): Promise<typeof FCClient> {
  loading ??= import('@alicloud/fc2').then((m) => (m as { default?: typeof FCClient }).default ?? (m as unknown as typeof FCClient))
  return loading
}

export function internalEndpoint(accountId: string, region: string): string {
  return `https://${accountId}.${region}-internal.fc.aliyuncs.com`
}

export function publicEndpoint(accountId: string, region: string): string {
  return `https://${accountId}.${region}.fc.aliyuncs.com`
}

/**
 * The invocation's own account, region and STS credentials (its role's), to invoke another function with,
 * or what its context lacks: they are there on Function Compute and the local invoke server only.
 */
export function ownIdentity(
  context: FcContext | undefined,
): { ok: true; value: Pick<FcInvokerOptions, 'accountId' | 'region' | 'credentials'> } | { ok: false; reason: string } {
  const { credentials, accountId, region } = context ?? {}
  if (credentials?.accessKeyId && credentials.accessKeySecret && accountId && region)
    return { ok: true, value: { accountId, region, credentials } }
  const missing = [
    credentials?.accessKeyId && credentials.accessKeySecret ? '' : 'credentials',
    accountId ? '' : 'accountId',
    region ? '' : 'region',
  ]
  return { ok: false, reason: `the invocation context has no ${missing.filter(Boolean).join(', ')}` }
}

export class FcInvoker {
  private readonly secrets: Secrets

  constructor(private readonly options: FcInvokerOptions) {
    // A child redactor: the caller's credentials are masked here without growing the process's set.
    this.secrets = (options.secrets ?? processSecrets).with(options.credentials.accessKeySecret, options.credentials.securityToken)
  }

  get endpoint(): string {
    return this.options.endpoint ?? internalEndpoint(this.options.accountId, this.options.region)
  }

  async invoke(functionName: string, payload: Buffer | string, type: InvocationType, options: InvokeOptions = {}): Promise<InvokeResult> {
    const timeoutMs = Math.max(1, Math.floor(options.timeoutMs ?? this.options.timeoutMs ?? 10_000))
    let timer: NodeJS.Timeout | undefined
    // fc2's timeout bounds the connection and the read apart, so a call could take twice as long: this bounds it whole.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FcInvokeError(`${type.toLowerCase()} invoke of ${functionName} at ${this.endpoint} did not answer within ${timeoutMs} ms`),
          ),
        timeoutMs,
      )
    })
    try {
      return await Promise.race([this.call(functionName, payload, type, timeoutMs), late])
    } finally {
      clearTimeout(timer)
    }
  }

  private async call(functionName: string, payload: Buffer | string, type: InvocationType, timeoutMs: number): Promise<InvokeResult> {
    const Client = await loadFc2()
    const { credentials: c } = this.options
    let client: FCClient
    try {
      client = new Client(this.options.accountId, {
        accessKeyID: c.accessKeyId,
        accessKeySecret: c.accessKeySecret,
        ...(c.securityToken ? { securityToken: c.securityToken } : {}),
        region: this.options.region,
        endpoint: this.endpoint,
        timeout: timeoutMs,
      })
    } catch (err) {
      throw new FcInvokeError(this.secrets.redact(`cannot build a Function Compute client: ${messageOf(err)}`))
    }
    client.version = '2023-03-30'
    const path = `/functions/${encodeURIComponent(functionName)}/invocations`
    let response: Awaited<ReturnType<FCClient['post']>>
    try {
      response = await client.post(path, Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), {
        'x-fc-invocation-type': type,
      })
    } catch (err) {
      throw new FcInvokeError(
        this.secrets.redact(`${type.toLowerCase()} invoke of ${functionName} at ${this.endpoint} failed: ${messageOf(err)}`),
      )
    }
    const requestId = header(response.headers, 'x-fc-request-id')
    const functionError = header(response.headers, 'x-fc-error-type')
    if (functionError !== undefined) {
      const body = response.data as { errorMessage?: unknown } | string
      const detail = typeof body === 'object' && body !== null && typeof body.errorMessage === 'string' ? body.errorMessage : String(body)
      throw new FcInvokeError(
        this.secrets.redact(`${functionName} failed (${functionError}${requestId ? `, request ${requestId}` : ''}): ${detail}`),
        functionError,
      )
    }
    return { status: 'ok', ...(requestId !== undefined ? { requestId } : {}), body: response.data }
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}
