// The bridge's rules: RULES_FILE when set, else the rules.yaml bundled at build time. Invalid rules stop
// the bridge with every error listed.
import { readFileSync } from 'node:fs'
import { ConfigError, RulesError } from '../errors.js'
import type { RuleSet } from './schema.js'
import { validateRulesText } from './validate.js'

export interface RulesSource {
  text: string
  origin: string
}

export function loadRuleSet(rulesFile: string | undefined, bundled: () => RulesSource): RuleSet {
  let source: RulesSource
  if (rulesFile !== undefined) {
    try {
      source = { text: readFileSync(rulesFile, 'utf8'), origin: `RULES_FILE=${rulesFile}` }
    } catch (err) {
      throw new ConfigError([
        { path: 'RULES_FILE', message: `cannot read ${rulesFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
      ])
    }
  } else {
    source = bundled()
  }
  const result = validateRulesText(source.text)
  if (!result.ok) throw new RulesError(source.origin, result.errors)
  return result.ruleSet
}
