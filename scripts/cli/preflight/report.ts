// What preflight prints besides the checks: the checklist of what the account needs before the first
// deploy, and what `s deploy` will create. Values of secret variables are never shown, only that they are
// set; every line also passes redact(), which knows the secrets loadConfig registered.
import { relative } from 'node:path'
import { redact } from '../../../shared/logging/secrets.js'
import { deadlineOf } from '../../../shared/mapping/deadline.js'
import type { Rule, RuleSet } from '../../../shared/rules/schema.js'
import type { LocalDeployment } from '../../local/deployment.js'

const SECRET_NAME = /PASSWORD|SECRET|TOKEN/i

/** NAME=value for the set variables; secrets (by name, and the rules' ACL password variables) as (set). */
export function shownEnvironment(environment: Record<string, string>, secretNames: Set<string>): string {
  return Object.entries(environment)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${SECRET_NAME.test(k) || secretNames.has(k) ? '(set)' : v}`)
    .join(' ')
}

export function aclPasswordNames(ruleSet: RuleSet | undefined): Set<string> {
  return new Set((ruleSet?.rules ?? []).flatMap((r) => (r.source.acl ? [r.source.acl.passwordEnv] : [])))
}

export function checklist(d: LocalDeployment, ruleSet: RuleSet | undefined, shell: NodeJS.ProcessEnv): string[] {
  const bridge = d.functions.find((f) => f.role === 'bridge')!
  const env = bridge.environment
  const enabled = (ruleSet?.rules ?? []).filter((r) => r.enabled)
  const lines = [
    `[ ] Serverless Devs credentials under the alias "${d.access}": npx s config add -a ${d.access} (AccountID, AccessKeyID, AccessKeySecret)`,
    "[ ] that RAM user: AliyunFCFullAccess and AliyunEventBridgeFullAccess; to create what s.yaml's `auto` creates, also AliyunLogFullAccess (log project), AliyunVPCFullAccess and AliyunNASFullAccess (the dead-letter store)",
    '[ ] EventBridge activated, and its service-linked role AliyunServiceRoleForEventBridgeSendToFC authorised (once per account)',
    `[ ] the bridge's role (${shell['BRIDGE_ROLE_ARN'] || 'aliyunfcdefaultrole, or BRIDGE_ROLE_ARN'}) allows fc:InvokeFunction on ${d.names['dead-letter']} (poison hand-off, onFailure)`,
    '[ ] NAS activated: nasConfig: auto creates a file system for the dead letters (billed; docs/deploying.md, "What is billed")',
    ...enabled.map(
      (r) =>
        `[ ] RocketMQ: topic ${r.source.topic} and group ${r.source.groupId} exist on ${r.source.instanceId ?? r.source.endpoint ?? 'the source'} (${r.source.regionId}) for rule ${r.id}`,
    ),
  ]
  if (env['MQTT_AUTH'] === 'signature')
    lines.push(
      `[ ] ApsaraMQ for MQTT: Group ID ${env['MQTT_CLIENT_ID_PREFIX'] || 'GID_bridge'} created on ${env['MQTT_INSTANCE_ID'] || 'the instance'}, parent topics ${[...new Set(enabled.map((r) => r.target.parentTopic.split('/')[0]))].join(', ')} created, and mq:PUB for the AccessKey in MQTT_ACCESS_KEY_ID`,
    )
  if (env['FLEET_REDIS_URL'])
    lines.push(
      `[ ] ApsaraDB for Redis / Tair at ${env['FLEET_REDIS_URL']}: in the bridge's VPC, the vSwitches' CIDR blocks in its whitelist, and the account ${env['FLEET_REDIS_USERNAME'] || '(default)'} able to run Lua scripts (docs/deploying.md, "The fleet store")`,
    )
  return lines.map(redact)
}

export function deploymentSummary(d: LocalDeployment, ruleSet: RuleSet | undefined): string[] {
  const secrets = aclPasswordNames(ruleSet)
  const width = Math.max(...d.functions.map((f) => f.name.length))
  const out = [`What s deploy will create or update (region ${d.region}, credentials alias "${d.access}"):`]
  for (const f of d.functions) {
    const hooks = [f.initializer ? `initializer ${f.initializer}` : '', f.preStop ? `preStop ${f.preStop}` : ''].filter(Boolean).join(', ')
    const extra = [
      hooks,
      f.onFailure ? `failed async invocations -> ${f.onFailure}` : '',
      f.httpTrigger ? `HTTP trigger (${f.httpTrigger.methods.join(', ')}, authType ${f.httpTrigger.authType})` : '',
    ]
      .filter(Boolean)
      .join('; ')
    out.push(
      `  ${f.name.padEnd(width)}  code ${relative(process.cwd(), f.dir) || '.'}, ${f.memory} MB, ${f.timeout} s${extra ? `; ${extra}` : ''}`,
    )
    if (f.role === 'bridge')
      for (const r of (ruleSet?.rules ?? []).filter((x) => x.enabled))
        out.push(
          `  ${''.padEnd(width)}  trigger rocketmq-${r.id}: RocketMQ ${r.source.instanceId ?? r.source.endpoint ?? ''} ${r.source.topic} (tags ${r.source.tags}, group ${r.source.groupId}) -> MQTT ${r.target.parentTopic}${deadlineNote(r, ruleSet?.defaultDeadline)}`,
        )
    const shown = shownEnvironment(f.environment, secrets)
    if (shown) out.push(`  ${''.padEnd(width)}  environment: ${shown}`)
  }
  return out.map(redact)
}

/** `; deadline 10m from userProperties.sentAt, then dead-letter` (docs/rules.md, "Delivery deadlines"), routes' own listed. */
function deadlineNote(rule: Rule, defaultDeadline: string | undefined): string {
  const d = deadlineOf(rule, defaultDeadline, 'target')
  const own = (rule.routes ?? []).flatMap((route, j) => (route.deadline !== undefined ? [`routes[${j}] ${route.deadline}`] : []))
  if (!d && own.length === 0) return ''
  const main = d
    ? `deadline ${d.text} from ${d.from !== undefined ? `userProperties.${d.from}` : "the event's time"}, then ${d.onExpired}`
    : 'no deadline'
  return `; ${main}${own.length > 0 ? ` (${own.join(', ')})` : ''}`
}
