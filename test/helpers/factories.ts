// Shared builders for unit tests: raw rule objects (as written in rules.yaml), validated rule sets, RocketMQ messages,
// dead-letter entries.
import { messageKey } from '../../shared/dead-letters/store/keys.js'
import type { NewEntry } from '../../shared/dead-letters/store/store.js'
import type { RocketMessage } from '../../shared/events/message.js'
import { RuleIndex } from '../../shared/mapping/rule-index.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRules } from '../../shared/rules/validate.js'

export const INSTANCE = 'MQ_INST_1234567890123456_BXhFHryi'

export interface RawRule {
  id?: unknown
  description?: unknown
  enabled?: unknown
  source?: Record<string, unknown>
  target?: Record<string, unknown>
  [key: string]: unknown
}

/**
 * A valid rule as a user would write it; `n` makes id, groupId, topic and parent topic unique.
 * `source` and `target` overrides are merged into the defaults; pass `undefined` as a value to drop a key.
 */
export function rawRule(
  n: number,
  over: { source?: Record<string, unknown>; target?: Record<string, unknown>; [k: string]: unknown } = {},
): RawRule {
  const { source, target, ...rest } = over
  return dropUndefined({
    id: `rule-${n}`,
    source: dropUndefined({
      regionId: 'cn-hangzhou',
      instanceId: INSTANCE,
      topic: `topic-${n}`,
      groupId: `GID_bridge_${n}`,
      ...source,
    }),
    target: dropUndefined({ parentTopic: `parent${n}`, ...target }),
    ...rest,
  })
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** Validates a rule set that must be valid, failing with every error otherwise. */
export function validRuleSet(rules: RawRule[], defaults?: Record<string, unknown>): RuleSet {
  const r = validateRules({ ...(defaults ? { defaults } : {}), rules })
  if (!r.ok) throw new Error(`test rule set is invalid: ${JSON.stringify(r.errors)}`)
  return r.ruleSet
}

export function ruleIndex(rules: RawRule[], defaults?: Record<string, unknown>): RuleIndex {
  return new RuleIndex(validRuleSet(rules, defaults))
}

/** A RocketMQ message for `topic-1` on INSTANCE, no tags, body "hello". */
export function message(over: Partial<RocketMessage> = {}): RocketMessage {
  const m: RocketMessage = {
    index: 0,
    messageId: 'AC14C305069E1B28CA003E5A7B5E0001',
    instanceId: INSTANCE,
    topic: 'topic-1',
    userProperties: {},
    body: 'hello',
    raw: {},
    ...over,
  }
  return m
}

/** A transient dead letter of message `id` (its event a RocketMQ event of topic T, body `id`), as a failed invocation leaves it. */
export function transientEntry(id: string, requestId: string, at: string): NewEntry {
  const event = {
    id: `e-${id}`,
    specversion: '1.0',
    data: { topic: 'T', systemProperties: { UNIQ_KEY: id }, userProperties: {}, body: id },
  }
  return {
    ...{ key: messageKey(id, 0, event), reason: 'not acknowledged', source: 'async-destination', failure: 'transient' },
    ...{ requestId, messageId: id, firstFailureAt: at, lastFailureAt: at, attempts: 3, event },
  }
}
