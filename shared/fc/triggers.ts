// Rules -> the bridge's EventBridge RocketMQ triggers (docs/platform-facts.md §4, §7): one per enabled rule.
// Used by the validate-rules function's 200 response, `npm run triggers` and the tests, so the three agree.
import { ruleModel } from '../rules/model.js'
import type { Rule, RuleSet, TriggerSettings } from '../rules/schema.js'
import { INSTANCE_TYPES, type Source } from '../rules/source.js'
import { DEFAULT_TRIGGER_SETTINGS } from '../rules/trigger-defaults.js'

export { DEFAULT_TRIGGER_SETTINGS } from '../rules/trigger-defaults.js'

/** Trigger names start with this; `npm run triggers` owns every bridge trigger whose name does. */
export const TRIGGER_NAME_PREFIX = 'rocketmq-'

export interface RocketMQSourceParameters {
  RegionId: string
  /** ApsaraMQ instances only; a self-managed cluster is reached through InstanceEndpoint. */
  InstanceId?: string
  Topic: string
  Tag: string
  GroupID: string
  Offset: 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP'
  /** Epoch milliseconds; only with CONSUME_FROM_TIMESTAMP. */
  Timestamp?: number
  /** Cloud_4, Cloud_5 or the self-managed value (source.instanceType overrides it). */
  InstanceType: string
  InstanceEndpoint?: string
  /** ACL: InstanceUsername and InstancePassword; the password is the deployer's environment variable, never a literal. */
  AuthType?: 'ACL'
  InstanceUsername?: string
  InstancePassword?: string
  InstanceNetwork?: 'PublicNetwork' | 'PrivateNetwork'
  InstanceVpcId?: string
  /** Comma-separated, as the API's string field takes them. */
  InstanceVSwitchIds?: string
  InstanceSecurityGroupId?: string
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
     * to the dead-letter function through asyncInvokeConfig.destinationConfig.onFailure. Synchronous for a
     * rule with `ordering: message-group`: EventBridge then waits for each batch's result (docs/rules.md,
     * "Ordered delivery per message group", for what that costs).
     */
    asyncInvocationType: boolean
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

/**
 * The MQTT parent topics a rule publishes to, as the tools name them (`plant, alarms`): the rule model's
 * (shared/rules/model.ts), its routes' included, the target's first where a message can reach it; and a
 * note where a route lets the producer choose one (`allowAnyParent`).
 */
export function publishesTo(rule: Rule, compiled: { parentTopics: string[]; anyParent: boolean } | undefined): string {
  if (!compiled) return rule.target.parentTopic
  const first = compiled.parentTopics.filter((t) => t === rule.target.parentTopic)
  const topics = [...first, ...compiled.parentTopics.filter((t) => t !== rule.target.parentTopic)]
  return [...topics, ...(compiled.anyParent ? ['any parent topic (allowAnyParent)'] : [])].join(', ')
}

/**
 * `to`: what publishesTo says of the rule; without it, the target's parent topic alone. `defaultDeadline`:
 * the rule set's `defaults.deadline`, which the description names with the rule's own and its routes'.
 */
export function triggerForRule(
  rule: Rule,
  defaults?: TriggerSettings,
  to: string = rule.target.parentTopic,
  defaultDeadline?: string,
): RocketMQTrigger {
  const s = effectiveSettings(rule, defaults)
  const ordered = rule.ordering === 'message-group' ? ', ordered per message group' : ''
  const own = rule.target.deadline ?? defaultDeadline
  const deadlines = [...new Set([own, ...(rule.routes ?? []).map((r) => r.deadline ?? own)])].filter((d) => d !== undefined)
  const deadline = deadlines.length === 0 ? '' : `, deadline${deadlines.length > 1 ? 's' : ''} ${deadlines.join(', ')}`
  const description = `rule ${rule.id}: RocketMQ ${rule.source.topic} (tags ${rule.source.tags}) -> MQTT ${to}${ordered}${deadline}`
  return {
    triggerName: triggerName(rule.id),
    triggerType: 'eventbridge',
    description: description.length > MAX_DESCRIPTION ? `${description.slice(0, MAX_DESCRIPTION - 1)}…` : description,
    qualifier: 'LATEST',
    triggerConfig: {
      triggerEnable: true,
      asyncInvocationType: rule.ordering !== 'message-group',
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
          sourceRocketMQParameters: sourceParameters(rule.source),
        },
      },
    },
  }
}

/**
 * The trigger's source parameters for each source type (docs/rules.md, "Source types"). A 4.x rule without
 * network or ACL gets exactly what it always had, plus its InstanceType.
 */
export function sourceParameters(s: Source): RocketMQSourceParameters {
  const out: RocketMQSourceParameters = {
    RegionId: s.regionId,
    ...(s.instanceId !== undefined ? { InstanceId: s.instanceId } : {}),
    Topic: s.topic,
    // RocketMQ's subscription expression: "*" or "TagA||TagB", as the rule writes it.
    Tag: s.tags,
    GroupID: s.groupId,
    ...offsetParameters(s.offset),
    InstanceType: s.instanceType ?? INSTANCE_TYPES[s.type],
  }
  if (s.endpoint !== undefined) out.InstanceEndpoint = s.endpoint
  if (s.acl) {
    out.AuthType = 'ACL'
    out.InstanceUsername = s.acl.username
    // Resolved by Serverless Devs from the deployer's environment at deploy time; s.yaml never holds it.
    out.InstancePassword = `\${env('${s.acl.passwordEnv}')}`
  }
  if (s.network) {
    out.InstanceNetwork = 'PrivateNetwork'
    out.InstanceVpcId = s.network.vpcId
    out.InstanceVSwitchIds = s.network.vSwitchIds.join(',')
    out.InstanceSecurityGroupId = s.network.securityGroupId
  } else if (s.type !== 'apsaramq-4') {
    out.InstanceNetwork = 'PublicNetwork'
  }
  return out
}

/** One trigger per enabled rule, in rule order. Disabled rules get none (their consumer group stays idle). */
export function triggersForRules(ruleSet: RuleSet): RocketMQTrigger[] {
  const model = ruleModel(ruleSet)
  return ruleSet.rules
    .filter((r) => r.enabled)
    .map((r) => triggerForRule(r, ruleSet.defaultTrigger, publishesTo(r, model.rule(r.id)), ruleSet.defaultDeadline))
}
