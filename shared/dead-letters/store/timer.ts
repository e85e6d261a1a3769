// The dead-letter function's timer trigger (s.yaml, every 5 minutes): parts that never completed become
// entries, transient entries are redriven through the bridge, and entries past retention are removed.
// One log line per step: dead-letter.parts-expired, dead-letter.redrive, dead-letter.retention.
import type { DeadLetterConfig } from '../../config/dead-letter.js'
import { DeadLetterTimerError, FcInvokeError, messageOf } from '../../errors.js'
import { bridgeAnswerOf } from '../../fc/bridge-answer.js'
import type { FcContext } from '../../fc/context.js'
import { FcInvoker, internalEndpoint, ownIdentity } from '../../fc/invoke.js'
import type { Logger } from '../../logging/logger.js'
import { isObject } from './entries.js'
import { clearGroup, sweepParts } from './parts.js'
import { type BridgeSender, noRedrive, type RedriveResult, redrive } from './redrive.js'
import { applyRetention, type RetentionResult } from './retention.js'
import type { DeadLetterStore, UnreadableLine } from './store.js'

/** Function Compute's timer trigger event; fields added to it later must not make it an unrecognised entry. */
export const isTimerEvent = (v: unknown): boolean =>
  isObject(v) &&
  typeof v['triggerTime'] === 'string' &&
  typeof v['triggerName'] === 'string' &&
  (v['payload'] === undefined || typeof v['payload'] === 'string')

/** The bridge, invoked synchronously with the invocation's own STS credentials (its role needs fc:InvokeFunction). */
export function bridgeSender(config: DeadLetterConfig, context: FcContext): BridgeSender {
  const own = ownIdentity(context)
  return async (event, requestId, timeoutMs) => {
    if (!own.ok) throw new FcInvokeError(`${own.reason}: redrive works on Function Compute (with a role) or the local invoke server`)
    const endpoint = config.redrive.endpoint ?? internalEndpoint(own.value.accountId, own.value.region)
    const invoker = new FcInvoker({ ...own.value, endpoint, timeoutMs: Math.max(1000, Math.floor(timeoutMs)) })
    const { body } = await invoker.invoke(config.redrive.bridgeFunction, event, 'Sync')
    return bridgeAnswerOf(body, `${config.redrive.bridgeFunction} (request ${requestId})`)
  }
}

export interface TimerSummary {
  kind: 'timer'
  requestId: string
  partsExpired: number
  redrive: RedriveResult
  retention?: RetentionResult
  unreadableLines: number
}

/** One timer run; a step that fails does not stop the others, and fails the invocation after all are logged. */
export async function runTimer(
  config: DeadLetterConfig,
  store: DeadLetterStore,
  context: FcContext,
  log: Logger,
  send: BridgeSender = bridgeSender(config, context),
): Promise<TimerSummary> {
  const requestId = context.requestId
  const failures: string[] = []
  const unreadable: UnreadableLine[] = []
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> =>
    run().catch((err) => void failures.push(`${name}: ${messageOf(err)}`))

  const partsExpired = await step('parts', async () => {
    const swept = await sweepParts(store)
    if (swept.unreadable.length > 0)
      log.warn({ event: 'dead-letter.parts-unreadable', requestId, count: swept.unreadable.length, first: swept.unreadable.slice(0, 5) })
    if (swept.entries.length === 0) return 0
    await store.put(swept.entries)
    for (const g of swept.groups) await clearGroup(store, g)
    const keys = swept.entries.map((e) => e.key)
    log.warn({ event: 'dead-letter.parts-expired', requestId, stored: keys.length, keys, waiting: swept.waiting })
    return swept.entries.length
  })
  const { maxAgeMs, backoffMs } = config.redrive
  const redriven = await step('redrive', () =>
    redrive(store, { maxAgeMs, backoffMs, send, requestId, onUnreadable: (u) => void unreadable.push(u) }),
  )
  const result = redriven ?? noRedrive()
  log.info({ event: 'dead-letter.redrive', requestId, ...result, ...(failures.length > 0 ? { error: failures.join('; ') } : {}) })
  const retention = await step('retention', () => applyRetention(store, config.retentionDays))
  if (retention) log.info({ event: 'dead-letter.retention', requestId, retentionDays: config.retentionDays, ...retention })
  if (unreadable.length > 0)
    log.warn({ event: 'dead-letter.unreadable-lines', requestId, count: unreadable.length, first: unreadable.slice(0, 5) })
  // After the summary lines: a step that failed fails the invocation, so it shows in `s logs --type fail`.
  if (failures.length > 0) throw new DeadLetterTimerError(failures)
  return {
    kind: 'timer',
    requestId,
    partsExpired: partsExpired ?? 0,
    redrive: result,
    ...(retention ? { retention } : {}),
    unreadableLines: unreadable.length,
  }
}
