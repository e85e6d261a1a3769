// The deployed function a command invokes, from the environment: ALIBABA_CLOUD_* (docs/deploying.md) and
// FC_ENDPOINT (default: the region's public endpoint).
import { FcInvoker, publicEndpoint } from '../../shared/fc/invoke.js'

/** Without `defaultRegion`, the region must be set; the credentials are read only when the invoker is made. */
export function fcTarget(env: NodeJS.ProcessEnv, what: string, defaultRegion?: string) {
  // The first of `names` that is set; otherwise an error saying that `what` needs one of them.
  const need = (...names: string[]): string => {
    for (const n of names) if (env[n]) return env[n]!
    throw new Error(`${what} needs ${names.join(' or ')} in the environment`)
  }
  const accountId = need('ALIBABA_CLOUD_ACCOUNT_ID', 'FC_ACCOUNT_ID')
  const region =
    defaultRegion === undefined
      ? need('ALIBABA_CLOUD_REGION', 'FC_REGION')
      : env['ALIBABA_CLOUD_REGION'] || env['FC_REGION'] || env['REGION'] || defaultRegion
  const endpoint = (env['FC_ENDPOINT'] || publicEndpoint(accountId, region)).replace(/\/$/, '')
  const token = env['ALIBABA_CLOUD_SECURITY_TOKEN']
  const invoker = (timeoutMs: number) =>
    new FcInvoker({
      accountId,
      region,
      credentials: {
        accessKeyId: need('ALIBABA_CLOUD_ACCESS_KEY_ID'),
        accessKeySecret: need('ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
        ...(token ? { securityToken: token } : {}),
      },
      endpoint,
      timeoutMs,
    })
  return { accountId, region, endpoint, invoker }
}
