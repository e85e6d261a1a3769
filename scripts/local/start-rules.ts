// The rules `npm start` serves and the samples it sends (docs/operations.md, "Samples under your own rules").
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RuleModel } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { samplesFromRules } from './rule-samples.js'
import { loadSamples, type Sample } from './samples.js'
import { LOCAL_ACCOUNT_ID } from './start-options.js'
import type { HandMessage } from './start-report.js'

export interface LocalRules {
  file: string
  /** The repository's rules.yaml, which examples/events.json is written for. */
  repository: boolean
  ruleSet: RuleSet
  model: RuleModel
  /** Every parent topic of the model, the routes' included: what the subscriber listens to. */
  topics: string[]
  /** A message one of them accepts, for the curl example. */
  handMessage: HandMessage
}

export function readRules(root: string): LocalRules {
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
    repository: resolve(file) === repositoryFile,
    ruleSet: result.ruleSet,
    model,
    topics: anywhere ? ['#'] : model.parentTopics.map((p) => `${p.topic}/#`),
    handMessage: {
      ruleId: rule.id,
      topic: rule.source.topic,
      ...(rule.source.instanceId ? { instanceId: rule.source.instanceId } : {}),
      ...(tag ? { tag } : {}),
    },
  }
}

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
