// Rules -> the bridge's EventBridge RocketMQ triggers (docs/platform-facts.md §4, §7): one per enabled rule.
// Used by the validate-rules function's 200 response, `npm run triggers` and the tests, so the three agree.
import type { Rule, RuleSet, TriggerSettings } from '../rules/schema.js'

/** Trigger names start with this; `npm run triggers` owns every bridge trigger whose name does. */
export const TRIGGER_NAME_PREFIX = 'rocketmq-'

/** What a rule gets when neither it nor `defaults.trigger` says otherwise. */
export const DEFAULT_TRIGGER_SETTINGS: Required<TriggerSettings> = {
  // Small batches: an asynchronous invocation carries at most 128 KB (docs/platform-facts.md §4).
  batchSize: 10,
  batchWindowSeconds: 1,
  retryStrategy: 'BACKOFF_RETRY',
  // EventBridge's own default: a push that keeps failing blocks the stream instead of being skipped silently.
  errorsTolerance: 'NONE',
}

export interface RocketMQSourceParameters {
  RegionId: string
  InstanceId: string
  Topic: string
  Tag: string
  GroupID: string
  Offset: 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP'
  /** Epoch milliseconds; only with CONSUME_FROM_TIMESTAMP. */
  Timestamp?: number
}

/** One trigger entry of s.yaml's `triggers` list for the bridge (fc3 component, triggerType eventbridge). */
export interface RocketMQTrigger {
  triggerName: string
  triggerType: 'eventbridge'
  description: string
  qualifier: 'LATEST'
  triggerConfig: {
    triggerEnable: true
    /**
     * Asynchronous, so that Function Compute retries a failed batch (maxAsyncRetryAttempts) and then hands it
     * to the dead-letter function through asyncInvokeConfig.destinationConfig.onFailure.
     */
    asyncInvocationType: true
    eventRuleFilterPattern: '{}'
    eventSinkConfig: { deliveryOption: { mode: 'event-streaming'; eventSchema: 'CloudEvents' } }
    runOptions: {
      mode: 'event-streaming'
      batchWindow: { CountBasedWindow: number; TimeBasedWindow: number }
      retryStrategy: { PushRetryStrategy: NonNullable<TriggerSettings['retryStrategy']> }
      errorsTolerance: NonNullable<TriggerSettings['errorsTolerance']>
    }
    eventSourceConfig: {
      eventSourceType: 'RocketMQ'
      eventSourceParameters: { sourceRocketMQParameters: RocketMQSourceParameters }
    }
  }
}

/** Stable, derived from the rule id only: renaming anything else updates the trigger in place. */
export function triggerName(ruleId: string): string {
  return `${TRIGGER_NAME_PREFIX}${ruleId}`
}

export function isManagedTriggerName(name: unknown): boolean {
  return typeof name === 'string' && name.startsWith(TRIGGER_NAME_PREFIX)
}

/** The rule's offset in EventBridge terms. The validator already accepted only these three forms. */
export function offsetParameters(offset: string): Pick<RocketMQSourceParameters, 'Offset' | 'Timestamp'> {
  if (offset === 'latest') return { Offset: 'CONSUME_FROM_LAST_OFFSET' }
  if (offset === 'earliest') return { Offset: 'CONSUME_FROM_FIRST_OFFSET' }
  const ms = Date.parse(offset)
  if (Number.isNaN(ms)) throw new Error(`offset ${JSON.stringify(offset)} is not latest, earliest or an ISO timestamp`)
  return { Offset: 'CONSUME_FROM_TIMESTAMP', Timestamp: ms }
}

/** Per field: the rule's setting, else defaults.trigger, else DEFAULT_TRIGGER_SETTINGS. */
export function effectiveSettings(rule: Rule, defaults?: TriggerSettings): Required<TriggerSettings> {
  const pick = <K extends keyof TriggerSettings>(k: K): Required<TriggerSettings>[K] =>
    (rule.trigger?.[k] ?? defaults?.[k] ?? DEFAULT_TRIGGER_SETTINGS[k]) as Required<TriggerSettings>[K]
  return {
    batchSize: pick('batchSize'),
    batchWindowSeconds: pick('batchWindowSeconds'),
    retryStrategy: pick('retryStrategy'),
    errorsTolerance: pick('errorsTolerance'),
  }
}

const MAX_DESCRIPTION = 256

export function triggerForRule(rule: Rule, defaults?: TriggerSettings): RocketMQTrigger {
  const s = effectiveSettings(rule, defaults)
  const description = `rule ${rule.id}: RocketMQ ${rule.source.topic} (tags ${rule.source.tags}) -> MQTT ${rule.target.parentTopic}`
  return {
    triggerName: triggerName(rule.id),
    triggerType: 'eventbridge',
    description: description.length > MAX_DESCRIPTION ? `${description.slice(0, MAX_DESCRIPTION - 1)}…` : description,
    qualifier: 'LATEST',
    triggerConfig: {
      triggerEnable: true,
      asyncInvocationType: true,
      eventRuleFilterPattern: '{}',
      // CloudEvents carry `time` (the lag figure) and the instance in `subject`; the bridge reads all three shapes.
      eventSinkConfig: { deliveryOption: { mode: 'event-streaming', eventSchema: 'CloudEvents' } },
      runOptions: {
        mode: 'event-streaming',
        batchWindow: { CountBasedWindow: s.batchSize, TimeBasedWindow: s.batchWindowSeconds },
        retryStrategy: { PushRetryStrategy: s.retryStrategy },
        errorsTolerance: s.errorsTolerance,
      },
      eventSourceConfig: {
        eventSourceType: 'RocketMQ',
        eventSourceParameters: {
          sourceRocketMQParameters: {
            RegionId: rule.source.regionId,
            InstanceId: rule.source.instanceId,
            Topic: rule.source.topic,
            // RocketMQ's subscription expression: "*" or "TagA||TagB", as the rule writes it.
            Tag: rule.source.tags,
            GroupID: rule.source.groupId,
            ...offsetParameters(rule.source.offset),
          },
        },
      },
    },
  }
}

/** One trigger per enabled rule, in rule order. Disabled rules get none (their consumer group stays idle). */
export function triggersForRules(ruleSet: RuleSet): RocketMQTrigger[] {
  return ruleSet.rules.filter((r) => r.enabled).map((r) => triggerForRule(r, ruleSet.defaultTrigger))
}
