// Where npm run replay sends entries: a bridge in this process (--target local) or the deployed one (--target fc).
// Each answers with the bridge's summary and, where it can tell, the reasons of what it dead-lettered again.
import { bundledRules } from '../../../functions/bridge/bundled-rules.js'
import { Bridge } from '../../../shared/bridge/bridge.js'
import { loadConfig } from '../../../shared/config/bridge.js'
import { createDeadLetterSink, type DeadLetterSink } from '../../../shared/dead-letters/handoff/sink.js'
import { type BridgeAnswer, bridgeAnswerOf } from '../../../shared/fc/bridge-answer.js'
import { loadRuleSet } from '../../../shared/rules/load.js'
import { fcTarget } from '../fc-target.js'

export interface Sender {
  send: (event: Buffer, requestId: string) => Promise<{ answer: BridgeAnswer; reasons?: string[] }>
  close: () => Promise<void>
}

/** The longest one --target fc invoke may take: the bridge's own timeout in s.yaml is 120 s. */
export const FC_INVOKE_TIMEOUT_MS = 120_000

/** Its dead letters go back into the store replayed from: a message dead-lettered again is the same entry. */
export function localSender(env: NodeJS.ProcessEnv, dir: string, ignoreDeadlines = false): Sender {
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
  const bridge = new Bridge(config, loadRuleSet(config.rulesFile, bundledRules), sink, { ignoreDeadlines })
  return {
    send: async (event, requestId) => {
      const answer = await bridge.handle(event, { requestId, function: { name: 'replay', timeout: 60 } })
      const said = reasons.get(requestId)
      reasons.delete(requestId)
      return { answer, ...(said ? { reasons: said } : {}) }
    },
    close: () => bridge.close(),
  }
}

export function fcSender(env: NodeJS.ProcessEnv, functionName: string): Sender {
  const invoker = fcTarget(env, '--target fc').invoker(FC_INVOKE_TIMEOUT_MS)
  return {
    send: async (event) => ({ answer: bridgeAnswerOf((await invoker.invoke(functionName, event, 'Sync')).body, functionName) }),
    close: async () => {},
  }
}
