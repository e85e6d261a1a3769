// Where npm run replay sends entries: an in-process bridge built from the environment (--target local),
// or the deployed bridge through a synchronous invoke (--target fc). Each answers with the bridge's summary,
// and, where it can tell, the reasons of what the bridge dead-lettered again.
import { bundledRules } from '../../../functions/bridge/bundled-rules.js'
import { Bridge } from '../../../shared/bridge/bridge.js'
import { loadConfig } from '../../../shared/config/bridge.js'
import { createDeadLetterSink, type DeadLetterSink } from '../../../shared/dead-letters/handoff/sink.js'
import { type BridgeAnswer, bridgeAnswerOf } from '../../../shared/fc/bridge-answer.js'
import type { FcContext } from '../../../shared/fc/context.js'
import { FcInvoker, publicEndpoint } from '../../../shared/fc/invoke.js'
import { loadRuleSet } from '../../../shared/rules/load.js'
import { requiredEnv } from '../required-env.js'

export interface Sender {
  send: (event: Buffer, requestId: string) => Promise<{ answer: BridgeAnswer; reasons?: string[] }>
  close: () => Promise<void>
}

/** The longest one --target fc invoke may take: the bridge's own timeout in s.yaml is 120 s. */
export const FC_INVOKE_TIMEOUT_MS = 120_000

/**
 * A bridge in this process, whose dead letters go back into the store replayed from (`dir`), as the
 * deployed bridge's go to the dead-letter function's store: a message dead-lettered again is the same entry.
 */
export function localSender(env: NodeJS.ProcessEnv, dir: string): Sender {
  const config = loadConfig({ ...env, DEAD_LETTER_TARGET: `file:${dir}` })
  const inner = createDeadLetterSink(config.deadLetterTarget)
  const reasons = new Map<string, string[]>()
  const sink: DeadLetterSink = {
    description: inner.description,
    send: (record, options) => {
      reasons.set(
        record.requestId,
        record.messages.map((m) => m.reason),
      )
      return inner.send(record, options)
    },
  }
  const bridge = new Bridge(config, loadRuleSet(config.rulesFile, bundledRules), sink)
  const context = (requestId: string): FcContext => ({ requestId, function: { name: 'replay', timeout: 60 } })
  return {
    send: async (event, requestId) => {
      const answer = await bridge.handle(event, context(requestId))
      const said = reasons.get(requestId)
      reasons.delete(requestId)
      return { answer, ...(said ? { reasons: said } : {}) }
    },
    close: () => bridge.close(),
  }
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
    send: async (event) => ({ answer: bridgeAnswerOf((await invoker.invoke(functionName, event, 'Sync')).body, functionName) }),
    close: async () => {},
  }
}
