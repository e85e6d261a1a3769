// The rules the bridge serves when RULES_FILE is not set. From the sources this reads ../../rules.yaml;
// the build replaces this module with the validated rules inlined (scripts/build.ts).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { RulesSource } from '../../shared/rules/load.js'

export function bundledRules(): RulesSource {
  const path = fileURLToPath(new URL('../../rules.yaml', import.meta.url))
  return { text: readFileSync(path, 'utf8'), origin: path }
}
