// The dead-letter function's timer trigger (s.yaml, every 5 minutes): parts that never completed become
// entries, transient entries are redriven through the bridge, and entries past retention are removed.
// One log line per step: dead-letter.parts-expired, dead-letter.redrive, dead-letter.retention.
import { bridgeSummaryOf } from '../bridge/answer.js'
import type { DeadLetterConfig } from '../config/dead-letter.js'
import { DeadLetterTimerError, FcInvokeError, messageOf } from '../errors.js'
import type { FcContext } from '../fc/context.js'
import { FcInvoker, internalEndpoint } from '../fc/invoke.js'
import type { Logger } from '../logging/logger.js'
import type { Deadline } from './bounded-fs.js'
import { isObject } from './fields.js'
import { clearGroup, sweepParts } from './parts.js'
import { type BridgeSender, type RedriveResult, redrive } from './redrive.js'
import { applyRetention, type RetentionResult } from './retention.js'
import { appendDeadLetters, type UnreadableLine } from './store.js'

/**
 * Function Compute's timer trigger event (docs/operations.md, "Redrive"). No record the function stores
 * has these fields; fields added to the event later do not make it an unrecognised entry every 5 minutes.
 */
export function isTimerEvent(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value['triggerTime'] === 'string' &&
    typeof value['triggerName'] === 'string' &&
    (value['payload'] === undefined || typeof value['payload'] === 'string')
  )
}

/** The bridge, invoked synchronously with the invocation's own STS credentials (its role needs fc:InvokeFunction). */
export function bridgeSender(config: DeadLetterConfig, context: FcContext): BridgeSender {
  const { credentials, accountId, region } = context
  return async (event, requestId, timeoutMs) => {
    if (!credentials?.accessKeyId || !credentials.accessKeySecret || !accountId || !region)
      throw new FcInvokeError(
        'the invocation context has no credentials, account ID or region: redrive works on Function Compute (with a role) or the local invoke server',
      )
    const invoker = new FcInvoker({
      accountId,
      region,
      credentials,
      endpoint: config.redrive.endpoint ?? internalEndpoint(accountId, region),
      timeoutMs: Math.max(1000, Math.floor(timeoutMs)),
    })
    const { body } = await invoker.invoke(config.redrive.bridgeFunction, event, 'Sync')
    return bridgeSummaryOf(body, `${config.redrive.bridgeFunction} (request ${requestId})`)
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

export async function runTimer(
  config: DeadLetterConfig,
  context: FcContext,
  log: Logger,
  now: Date,
  deadline: Deadline,
  send: BridgeSender = bridgeSender(config, context),
): Promise<TimerSummary> {
  const requestId = context.requestId
  const failures: string[] = []
  const unreadable: UnreadableLine[] = []
  const onUnreadable = (u: UnreadableLine) => void unreadable.push(u)

  let partsExpired = 0
  try {
    const swept = await sweepParts(config.dir, now, deadline)
    if (swept.entries.length > 0) {
      await appendDeadLetters(config.dir, swept.entries, { now, deadline })
      for (const g of swept.groups) await clearGroup(config.dir, g, now, deadline)
      partsExpired = swept.entries.length
      log.warn({
        event: 'dead-letter.parts-expired',
        requestId,
        stored: partsExpired,
        keys: swept.entries.map((e) => e.key),
        waiting: swept.waiting,
      })
    }
  } catch (err) {
    failures.push(`parts: ${messageOf(err)}`)
  }

  let result: RedriveResult = { tried: 0, replayed: 0, stillFailing: 0, expired: 0, deadLettered: 0, deferred: 0, waiting: 0 }
  try {
    result = await redrive({
      dir: config.dir,
      now,
      deadline,
      maxAgeMs: config.redrive.maxAgeMs,
      backoffMs: config.redrive.backoffMs,
      send,
      requestId,
      onUnreadable,
    })
  } catch (err) {
    failures.push(`redrive: ${messageOf(err)}`)
  }
  log.info({ event: 'dead-letter.redrive', requestId, ...result, ...(failures.length > 0 ? { error: failures.join('; ') } : {}) })

  let retention: RetentionResult | undefined
  try {
    retention = await applyRetention(config.dir, config.retentionDays, now, deadline)
    log.info({ event: 'dead-letter.retention', requestId, retentionDays: config.retentionDays, ...retention })
  } catch (err) {
    failures.push(`retention: ${messageOf(err)}`)
  }
  if (unreadable.length > 0)
    log.warn({ event: 'dead-letter.unreadable-lines', requestId, count: unreadable.length, first: unreadable.slice(0, 5) })
  // After the summary lines: a step that failed fails the invocation, so it shows in `s logs --type fail`.
  if (failures.length > 0) throw new DeadLetterTimerError(failures)
  return {
    kind: 'timer',
    requestId,
    partsExpired,
    redrive: result,
    ...(retention ? { retention } : {}),
    unreadableLines: unreadable.length,
  }
}
