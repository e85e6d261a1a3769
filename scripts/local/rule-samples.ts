// The samples `npm start` sends under a RULES_FILE of the user's own: one message per outlet of each enabled
// rule (outlet-sample.ts), expected to come out as the bridge's own preview says, so the run checks delivery,
// not the mapping. An outlet no such message reaches gets no sample, and the run says why.
import { randomBytes } from 'node:crypto'
import { previewEvent } from '../../shared/bridge/preview.js'
import type { RuleModel } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { syntheticEvent } from '../cli/smoke/synthetic-event.js'
import { outletSample } from './outlet-sample.js'
import type { Sample } from './samples.js'

export interface RuleSamples {
  samples: Sample[]
  /** `rule plant routes[1]: …`, one per outlet that got no sample. */
  skipped: string[]
}

export function samplesFromRules(ruleSet: RuleSet, model: RuleModel, accountId: string, now = new Date()): RuleSamples {
  const samples: Sample[] = []
  const skipped: string[] = []
  for (const rule of model.rules.filter((r) => r.enabled)) {
    for (const outlet of rule.outlets) {
      const token = randomBytes(5).toString('hex')
      const made = outletSample(rule, outlet, ruleSet, token, now.getTime())
      if (!made.ok) {
        skipped.push(`rule ${rule.id} ${outlet.name}: ${made.reason}`)
        continue
      }
      const s = made.value
      const message = syntheticEvent(
        {
          rule: rule.rule,
          accountId,
          userProperties: s.userProperties,
          body: s.body ?? `sample for rule ${rule.id} ${outlet.name} ${token}`,
          tag: s.tag,
          keys: s.keys,
          now,
        },
        token,
      )
      const preview = previewEvent(message.event, ruleSet, now.getTime())
      const p = preview.publishes[0]
      if (p?.route !== outlet.name) {
        const why = p
          ? `the message made for it takes ${p.route}`
          : (preview.deadLetters[0]?.reason ?? 'the message made for it is filtered out')
        skipped.push(`rule ${rule.id} ${outlet.name}: ${why}`)
        continue
      }
      samples.push({
        name: `rule ${rule.id} ${outlet.name}`,
        about: `Made from ${outlet.path}${outlet.filters.length > 0 ? ` (its filter: ${outlet.filters.map((f) => f.field).join(', ')})` : ''}: -> ${p.topic}`,
        event: message.event,
        expect: { mqtt: [{ topic: p.topic, qos: p.qos, payload: message.payload.toString('utf8') }], deadLetters: [] },
      })
    }
  }
  return { samples, skipped }
}
