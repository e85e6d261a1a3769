// The fleet store, when s.yaml gives the bridge FLEET_REDIS_URL (docs/deploying.md, "The fleet store"): its
// variables, and the VPC the bridge needs to reach Redis. The values are the schema's (environment-check.ts).
import YAML from 'yaml'
import type { LocalDeployment } from '../../local/deployment.js'
import { type Finding, ok, problem, warning } from './finding.js'

const CHECK = 'fleet store'
const NO_VPC =
  "the bridge has no vpcConfig in s.yaml: Function Compute reaches ApsaraDB for Redis or Tair only inside the instance's VPC; set vpcConfig (vpcId, vSwitchIds, securityGroupId) on the bridge"
const AUTO_VPC = "the bridge's vpcConfig is auto: a VPC Serverless Devs creates, not the Redis instance's; name the instance's VPC instead"
const IN_VPC =
  "the Redis instance must be in that VPC, and its whitelist must allow the vSwitches' CIDR blocks; a cluster instance in proxy mode needs its parameter script_check_enable set to 0, or its direct connection address in FLEET_REDIS_URL (not checked from here)"

export function checkFleet(deployment: LocalDeployment, sYamlText: string): Finding[] {
  const bridge = deployment.functions.find((f) => f.role === 'bridge')!
  const env = bridge.environment
  const url = env['FLEET_REDIS_URL']
  if (!url) return []
  const set = Object.keys(env)
    .filter((k) => (k.startsWith('FLEET_') || k === 'DUPLICATE_WINDOW') && env[k])
    .map((k) => (k === 'FLEET_REDIS_PASSWORD' ? `${k}=(set)` : `${k}=${env[k]}`))
  const out: Finding[] = [
    ok(
      CHECK,
      `on: ${set.join(' ')}; duplicates within DUPLICATE_WINDOW=${env['DUPLICATE_WINDOW'] || '24h'} are suppressed across instances, FLEET_RATE_LIMIT=${env['FLEET_RATE_LIMIT'] || '0 (none)'}`,
    ),
  ]
  if (!env['FLEET_REDIS_PASSWORD'])
    out.push(warning(CHECK, 'FLEET_REDIS_PASSWORD is not set: the instance must allow password-free access from the VPC'))
  const vpc = bridgeVpc(sYamlText)
  if (vpc === undefined) out.push(problem(CHECK, NO_VPC))
  else if (vpc === 'auto') out.push(warning(CHECK, AUTO_VPC))
  else out.push(ok(CHECK, `reached through ${vpc}: ${IN_VPC}`))
  return out
}

/** undefined when absent, 'auto', or the VPC named. */
function bridgeVpc(sYamlText: string): string | undefined {
  const doc = YAML.parse(sYamlText) as { resources?: Record<string, { props?: Record<string, unknown> }> } | null
  const v = doc?.resources?.['bridge']?.props?.['vpcConfig']
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string') return v === 'auto' ? 'auto' : `vpcConfig ${v}`
  const c = v as { vpcId?: unknown; vSwitchIds?: unknown }
  return `VPC ${String(c.vpcId ?? '?')} (vSwitches ${Array.isArray(c.vSwitchIds) ? c.vSwitchIds.join(', ') : '?'})`
}
