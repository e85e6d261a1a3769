// The checks on rules.yaml against what a deployment needs: valid rules, no sample IDs left in them, every
// source in the deployment's region, every ACL password set in the environment, and s.yaml's triggers in
// agreement (syncTriggers, the same comparison `npm run triggers -- --check` makes).
import { SYamlError } from '../../../shared/errors.js'
import type { RuleSet } from '../../../shared/rules/schema.js'
import { validateRulesText } from '../../../shared/rules/validate.js'
import { isSample, type SampleKind } from '../../local/sample-ids.js'
import { syncTriggers } from '../triggers.js'
import { type Finding, ok, problem, warning } from './finding.js'

export function checkRules(rulesPath: string, text: string): { findings: Finding[]; ruleSet?: RuleSet } {
  const result = validateRulesText(text)
  if (!result.ok) return { findings: result.errors.map((e) => problem('rules', `${rulesPath}: ${e.path}: ${e.message}`)) }
  const rules = result.ruleSet.rules
  const enabled = rules.filter((r) => r.enabled).length
  const findings = [ok('rules', `${rulesPath}: valid, ${enabled} of ${rules.length} rules enabled (profile ${result.ruleSet.profile})`)]
  if (enabled === 0) findings.push(problem('rules', `${rulesPath} has no enabled rule: the bridge would get no trigger at all`))
  return { findings, ruleSet: result.ruleSet }
}

const SAMPLE_FIXES: Record<SampleKind, string> = {
  instanceId: "replace it with your RocketMQ instance's ID (the RocketMQ console, Instances)",
  endpoint: "replace it with your cluster's NameServer address (host:port)",
  groupId: 'create a consumer group for this rule (one per rule; EventBridge consumes with it) and name it here',
}

/** Sample IDs make triggers that cannot work: refused in enabled rules, a warning in disabled ones. */
export function checkSamples(ruleSet: RuleSet): Finding[] {
  const out: Finding[] = []
  ruleSet.rules.forEach((r, i) => {
    for (const field of ['instanceId', 'endpoint', 'groupId'] as const) {
      const value = r.source[field]
      if (!isSample(field, value)) continue
      const text = `rules[${i}] (${r.id}): source.${field} ${JSON.stringify(value)} is a sample from the repository; ${SAMPLE_FIXES[field]}`
      out.push(r.enabled ? problem('sample IDs', text) : warning('sample IDs', `${text} (the rule is disabled, so no trigger is made)`))
    }
  })
  if (out.length === 0) out.push(ok('sample IDs', 'no sample instance ID, NameServer address or group ID in the rules'))
  return out
}

/** RocketMQ triggers work within one region (docs/platform-facts.md §4): each source in the deployment's. */
export function checkRegion(ruleSet: RuleSet, region: string): Finding[] {
  const out: Finding[] = []
  ruleSet.rules.forEach((r, i) => {
    if (r.source.regionId === region) return
    const text = `rules[${i}] (${r.id}): source.regionId is ${r.source.regionId}, but s.yaml deploys to ${region} (REGION); RocketMQ triggers work within one region`
    out.push(r.enabled ? problem('region', text) : warning('region', text))
  })
  if (out.length === 0) out.push(ok('region', `every rule's source.regionId is ${region}, the region s.yaml deploys to (REGION)`))
  return out
}

/** s.yaml passes each ACL password to its trigger as ${env('<passwordEnv>')}: unset, `s deploy` stops. */
export function checkAcl(ruleSet: RuleSet, env: NodeJS.ProcessEnv): Finding[] {
  const out: Finding[] = []
  ruleSet.rules.forEach((r, i) => {
    const acl = r.source.acl
    if (!r.enabled || !acl) return
    if (env[acl.passwordEnv]) out.push(ok('ACL passwords', `rules[${i}] (${r.id}): ${acl.passwordEnv} is set`))
    else
      out.push(
        problem(
          'ACL passwords',
          `rules[${i}] (${r.id}): source.acl.passwordEnv names ${acl.passwordEnv}, which is not set in this shell; s.yaml reads it as \${env('${acl.passwordEnv}')} and s deploy stops without it`,
        ),
      )
  })
  return out
}

export function checkTriggers(sYamlPath: string, sYamlText: string, rulesPath: string, ruleSet: RuleSet): Finding[] {
  try {
    const sync = syncTriggers(sYamlText, ruleSet)
    if (sync.differences.length === 0) return [ok('triggers', `${sYamlPath}: the bridge's triggers agree with ${rulesPath}`)]
    return sync.differences.map((d) => problem('triggers', `${sYamlPath} disagrees with ${rulesPath}: ${d} (run npm run triggers)`))
  } catch (err) {
    if (err instanceof SYamlError) return [problem('triggers', `${sYamlPath}: ${err.message}`)]
    throw err
  }
}
