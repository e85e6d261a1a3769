// The smoke message for a rule, and where the bridge's own mapping (the preview) sends it. Without --body, made
// from the first of the rule's outlets a message reaches (scripts/local/outlet-sample.ts); its topic carries
// `smoke-<token>` (or `<parent>/smoke/<token>`), so no device subscribes to it.
import { previewEvent } from '../../../shared/bridge/preview.js'
import type { CompiledRule } from '../../../shared/rules/model.js'
import type { RuleSet } from '../../../shared/rules/schema.js'
import { handHint, outletSample } from '../../local/outlet-sample.js'
import { type SmokeInput, syntheticEvent } from './synthetic-event.js'

export class SmokeFailure extends Error {}

export function chooseSmokeMessage(o: {
  rule: CompiledRule
  ruleSet: RuleSet
  accountId: string
  properties: Record<string, string>
  body: string | undefined
  token: string
  now?: Date
}) {
  const { rule, ruleSet, token } = o
  const now = o.now ?? new Date()
  // The message, and what the bridge's preview does with it.
  const make = (input: Omit<SmokeInput, 'rule' | 'accountId' | 'now'>) => {
    const message = syntheticEvent({ rule: rule.rule, accountId: o.accountId, now, ...input }, token)
    return { message, p: previewEvent(Buffer.from(JSON.stringify(message.event)), ruleSet, now.getTime()) }
  }
  if (o.body !== undefined || rule.outlets.length === 0) {
    const { message, p } = make({ userProperties: { mqttSecondTopic: `/smoke/${token}`, ...o.properties }, body: o.body })
    const expected = p.publishes[0]
    if (expected) return { message, expected, outlet: expected.route }
    const why = p.deadLetters[0]?.reason ?? 'no route of the rule accepts it (unmatched: skip)'
    throw new SmokeFailure(`the bridge would not publish this message: ${why}; ${hint(rule)}`)
  }
  const tried: string[] = []
  for (const outlet of rule.outlets) {
    const sample = outletSample(rule, outlet, ruleSet, token, now.getTime())
    if (!sample.ok) {
      tried.push(`${outlet.name}: ${sample.reason}`)
      continue
    }
    const s = sample.value
    const { message, p } = make({ userProperties: { ...s.userProperties, ...o.properties }, body: s.body, tag: s.tag, keys: s.keys })
    const expected = p.publishes[0]
    if (expected?.route === outlet.name) return { message, expected, outlet: outlet.name }
    tried.push(`${outlet.name}: ${expected ? `taken by ${expected.route} before it` : (p.deadLetters[0]?.reason ?? 'filtered out')}`)
  }
  throw new SmokeFailure(`no message made from rule ${rule.id}'s filters reaches an outlet (${tried.join('; ')}); ${hint(rule)}`)
}

function hint(rule: CompiledRule): string {
  const route = rule.outlets[0]
  const flags = route ? handHint(route) : '--body and --property'
  return `give the message by hand: ${flags}${route ? ` (what ${route.path} accepts)` : ''}`
}
