// Where npm run replay sends entries: an in-process bridge built from the environment (--target local),
// or the deployed bridge through a synchronous invoke (--target fc). Each answers with the bridge's summary.
import { bundledRules } from '../../../functions/bridge/bundled-rules.js'
import { bridgeSummaryOf } from '../../../shared/bridge/answer.js'
import { Bridge, type Summary } from '../../../shared/bridge/bridge.js'
import type { FcContext } from '../../../shared/fc/context.js'
import { FcInvoker, publicEndpoint } from '../../../shared/fc/invoke.js'
import { requiredEnv } from '../required-env.js'

export interface Sender {
  send: (event: Buffer, requestId: string) => Promise<Summary>
  close: () => Promise<void>
}

/** The longest one --target fc invoke may take: the bridge's own timeout in s.yaml is 120 s. */
export const FC_INVOKE_TIMEOUT_MS = 120_000

export function localSender(env: NodeJS.ProcessEnv): Sender {
  const bridge = Bridge.fromEnvironment(env, bundledRules)
  const context = (requestId: string): FcContext => ({ requestId, function: { name: 'replay', timeout: 60 } })
  return { send: (event, requestId) => bridge.handle(event, context(requestId)), close: () => bridge.close() }
}

export function fcSender(env: NodeJS.ProcessEnv, functionName: string): Sender {
  const need = (...names: string[]) => requiredEnv(env, '--target fc', ...names)
  const accountId = need('ALIBABA_CLOUD_ACCOUNT_ID', 'FC_ACCOUNT_ID')
  const region = need('ALIBABA_CLOUD_REGION', 'FC_REGION')
  const token = env['ALIBABA_CLOUD_SECURITY_TOKEN']
  const invoker = new FcInvoker({
    accountId,
    region,
    credentials: {
      accessKeyId: need('ALIBABA_CLOUD_ACCESS_KEY_ID'),
      accessKeySecret: need('ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
      ...(token ? { securityToken: token } : {}),
    },
    endpoint: (env['FC_ENDPOINT'] || publicEndpoint(accountId, region)).replace(/\/$/, ''),
    timeoutMs: FC_INVOKE_TIMEOUT_MS,
  })
  return {
    send: async (event) => bridgeSummaryOf((await invoker.invoke(functionName, event, 'Sync')).body, functionName),
    close: async () => {},
  }
}
