// The rules `npm start` serves and the samples it sends (docs/operations.md, "Samples under your own rules").
// Under a RULES_FILE of the user's own: one message per outlet of each enabled rule (outlet-sample.ts),
// expected to come out as the bridge's own preview says, so the run checks delivery, not the mapping.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { previewEvent } from '../../shared/bridge/preview.js'
import type { RuleModel } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { smokeToken, syntheticEvent } from '../cli/smoke/synthetic-event.js'
import { outletSample } from './outlet-sample.js'
import { loadSamples, type Sample } from './samples.js'
import { LOCAL_ACCOUNT_ID } from './start-options.js'

export function readRules(root: string) {
  const repositoryFile = join(root, 'rules.yaml')
  const file = process.env['RULES_FILE'] || repositoryFile
  const result = validateRulesText(readFileSync(file, 'utf8'))
  if (!result.ok) throw new Error(`${file} is invalid:\n${result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`)
  const enabled = result.ruleSet.rules.filter((r) => r.enabled)
  if (enabled.length === 0) throw new Error(`${file} has no enabled rule: the bridge would dead-letter every message`)
  // The sample events' rule when it is there, so the example matches the README; else any enabled rule.
  const rule = enabled.find((r) => r.id === 'home-lamps') ?? enabled[0]!
  const tag = rule.source.tags === '*' ? undefined : rule.source.tags.split('||')[0]
  const { model } = result
  // A route that lets the producer choose the parent topic can publish anywhere: so does the subscriber listen.
  const anywhere = model.rules.some((r) => r.enabled && r.anyParent)
  return {
    file,
    // The repository's rules.yaml, which examples/events.json is written for.
    repository: resolve(file) === repositoryFile,
    ruleSet: result.ruleSet,
    model,
    // Every parent topic of the model, the routes' included: what the subscriber listens to.
    topics: anywhere ? ['#'] : model.parentTopics.map((p) => `${p.topic}/#`),
    // A message the rule accepts, for the curl example.
    handMessage: {
      ruleId: rule.id,
      topic: rule.source.topic,
      ...(rule.source.instanceId ? { instanceId: rule.source.instanceId } : {}),
      ...(tag ? { tag } : {}),
    },
  }
}

export type LocalRules = ReturnType<typeof readRules>

export function chooseSamples(root: string, send: boolean, rules: LocalRules, print: (line: string) => void): Sample[] {
  if (!send) {
    print('  samples: none (--no-samples)')
    return []
  }
  if (rules.repository) return loadSamples(join(root, 'examples', 'events.json'))
  const made = samplesFromRules(rules.ruleSet, rules.model, LOCAL_ACCOUNT_ID)
  print(
    `  samples: ${made.samples.length} made from ${rules.file} (one per route and target of each enabled rule), not examples/events.json, which is written for the repository's rules.yaml`,
  )
  for (const s of made.skipped) print(`  no sample for ${s}`)
  return made.samples
}

/** One sample per outlet; an outlet no such message reaches gets none, and `skipped` says why (`rule plant routes[1]: …`). */
export function samplesFromRules(ruleSet: RuleSet, model: RuleModel, accountId: string, now = new Date()) {
  const samples: Sample[] = []
  const skipped: string[] = []
  for (const rule of model.rules.filter((r) => r.enabled)) {
    for (const outlet of rule.outlets) {
      const token = smokeToken()
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
