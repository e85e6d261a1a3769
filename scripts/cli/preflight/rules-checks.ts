// rules.yaml against what a deployment needs. Invalid rules hide nothing: the source checks read every rule that
// has a source all the same.
import { SYamlError } from '../../../shared/errors.js'
import type { RuleModel } from '../../../shared/rules/model.js'
import type { RuleSet } from '../../../shared/rules/schema.js'
import { parseRulesText, validateRulesText } from '../../../shared/rules/validate.js'
import { isObject } from '../../../shared/schema-helpers.js'
import { isSample, placeholderShape, type SampleKind } from '../../local/sample-ids.js'
import { syncTriggers } from '../triggers.js'
import { type Finding, ok, problem, skipped, warning } from './finding.js'

export interface SourceFacts {
  i: number
  id: string
  enabled: boolean
  source: {
    regionId?: unknown
    instanceId?: unknown
    endpoint?: unknown
    groupId?: unknown
    acl?: { username?: unknown; passwordEnv?: unknown }
    network?: { vpcId?: unknown; vSwitchIds?: unknown; securityGroupId?: unknown }
  }
}

export function checkRules(
  rulesPath: string,
  text: string,
): { findings: Finding[]; ruleSet?: RuleSet; model?: RuleModel; sources: SourceFacts[] } {
  const result = validateRulesText(text)
  if (!result.ok)
    return { findings: result.errors.map((e) => problem('rules', `${rulesPath}: ${e.path}: ${e.message}`)), sources: rawSources(text) }
  const rules = result.ruleSet.rules
  const enabled = rules.filter((r) => r.enabled).length
  const findings = [ok('rules', `${rulesPath}: valid, ${enabled} of ${rules.length} rules enabled (profile ${result.ruleSet.profile})`)]
  if (enabled === 0) findings.push(problem('rules', `${rulesPath} has no enabled rule: the bridge would get no trigger at all`))
  return { findings, ruleSet: result.ruleSet, model: result.model, sources: sourcesOf(result.ruleSet) }
}

export function sourcesOf(ruleSet: RuleSet): SourceFacts[] {
  return ruleSet.rules.map((r, i) => ({ i, id: r.id, enabled: r.enabled, source: r.source }))
}

export function rawSources(text: string): SourceFacts[] {
  const parsed = parseRulesText(text)
  if (!parsed.ok) return []
  const rules = (parsed.value as { rules?: unknown } | null)?.rules
  if (!Array.isArray(rules)) return []
  return rules.flatMap((rule: unknown, i) => {
    const source = isObject(rule) ? rule['source'] : undefined
    if (!isObject(rule) || !isObject(source)) return []
    return [{ i, id: typeof rule['id'] === 'string' ? rule['id'] : `rules[${i}]`, enabled: rule['enabled'] !== false, source }]
  })
}

const factsOf = (x: RuleSet | SourceFacts[]): SourceFacts[] => (Array.isArray(x) ? x : sourcesOf(x))
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

const SAMPLE_FIXES: Record<SampleKind, string> = {
  instanceId: "replace it with your RocketMQ instance's ID (the RocketMQ console, Instances)",
  endpoint: "replace it with your cluster's NameServer address (host:port)",
  groupId: 'create a consumer group for this rule (one per rule; EventBridge consumes with it) and name it here',
}

/** Sample and placeholder IDs make triggers that cannot work: refused in enabled rules, a warning in disabled ones. */
export function checkSamples(rules: RuleSet | SourceFacts[]): Finding[] {
  const out: Finding[] = []
  for (const r of factsOf(rules)) {
    const report = (t: string) =>
      out.push(r.enabled ? problem('sample IDs', t) : warning('sample IDs', `${t} (the rule is disabled, so no trigger is made)`))
    for (const field of ['instanceId', 'endpoint', 'groupId'] as const) {
      const value = text(r.source[field])
      const at = `rules[${r.i}] (${r.id}): source.${field} ${JSON.stringify(value)}`
      if (isSample(field, value)) report(`${at} is a sample from the repository; ${SAMPLE_FIXES[field]}`)
      else {
        const shape = placeholderShape(field, value)
        if (shape) report(`${at} ${shape}; ${SAMPLE_FIXES[field]}`)
      }
    }
    const more: Array<[string, unknown]> = [
      ['acl.username', r.source.acl?.username],
      ['network.vpcId', r.source.network?.vpcId],
      ['network.securityGroupId', r.source.network?.securityGroupId],
      ...(Array.isArray(r.source.network?.vSwitchIds)
        ? r.source.network.vSwitchIds.map((v, k): [string, unknown] => [`network.vSwitchIds[${k}]`, v])
        : []),
    ]
    for (const [field, v] of more) {
      const shape = placeholderShape(field, text(v))
      if (shape) report(`rules[${r.i}] (${r.id}): source.${field} ${JSON.stringify(v)} ${shape}; set your own`)
    }
  }
  if (out.length === 0)
    out.push(ok('sample IDs', 'no sample or placeholder instance ID, NameServer address, group ID or network ID in the rules'))
  return out
}

/** RocketMQ triggers work within one region (docs/platform-facts.md §4): each source in the deployment's. */
export function checkRegion(rules: RuleSet | SourceFacts[], region: string): Finding[] {
  const out: Finding[] = []
  for (const r of factsOf(rules)) {
    if (r.source.regionId === region || typeof r.source.regionId !== 'string') continue
    const t = `rules[${r.i}] (${r.id}): source.regionId is ${r.source.regionId}, but s.yaml deploys to ${region} (REGION); RocketMQ triggers work within one region`
    out.push(r.enabled ? problem('region', t) : warning('region', t))
  }
  if (out.length === 0) out.push(ok('region', `every rule's source.regionId is ${region}, the region s.yaml deploys to (REGION)`))
  return out
}

/** s.yaml passes each ACL password to its trigger as ${env('<passwordEnv>')}: unset, `s deploy` stops. */
export function checkAcl(rules: RuleSet | SourceFacts[], env: NodeJS.ProcessEnv): Finding[] {
  const out: Finding[] = []
  for (const r of factsOf(rules)) {
    const name = text(r.source.acl?.passwordEnv)
    if (!r.enabled || name === undefined) continue
    const at = `rules[${r.i}] (${r.id})`
    if (env[name]) out.push(ok('ACL passwords', `${at}: ${name} is set`))
    else {
      const why = `s.yaml reads it as \${env('${name}')} and s deploy stops without it`
      out.push(problem('ACL passwords', `${at}: source.acl.passwordEnv names ${name}, which is not set in this shell; ${why}`))
    }
  }
  return out
}

export const triggersSkipped = (rulesPath: string): Finding =>
  skipped('triggers', `s.yaml's triggers are not compared with ${rulesPath} until the rules are valid (npm run triggers writes them then)`)

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
