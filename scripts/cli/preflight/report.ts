// The checklist of what the account needs, and what `s deploy` will create. Secrets show only as (set), and
// every line passes redact().
import { relative } from 'node:path'
import { publishesTo } from '../../../shared/fc/triggers.js'
import { redact } from '../../../shared/logging/secrets.js'
import { deadlineOf } from '../../../shared/mapping/deadline.js'
import type { RuleModel } from '../../../shared/rules/model.js'
import type { Rule, RuleSet } from '../../../shared/rules/schema.js'
import type { LocalDeployment } from '../../local/deployment.js'
import type { Finding } from './finding.js'

const SECRET_NAME = /PASSWORD|SECRET|TOKEN/i

export function shownEnvironment(environment: Record<string, string>, secretNames: Set<string>): string {
  return Object.entries(environment)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${SECRET_NAME.test(k) || secretNames.has(k) ? '(set)' : v}`)
    .join(' ')
}

/** A checklist line; one with `verifiedBy` is ticked when those checks ran and found no problem. */
type Item = string | { text: string; verifiedBy: string[] }

export function checklist(
  d: LocalDeployment,
  ruleSet: RuleSet | undefined,
  shell: NodeJS.ProcessEnv,
  findings: Finding[] = [],
  model?: RuleModel,
): string[] {
  const bridge = d.functions.find((f) => f.role === 'bridge')!
  const env = bridge.environment
  const enabled = (ruleSet?.rules ?? []).filter((r) => r.enabled)
  const items: Item[] = [
    {
      text: `Serverless Devs credentials under the alias "${d.access}": npx s config add -a ${d.access} (AccountID, AccessKeyID, AccessKeySecret)`,
      verifiedBy: ['credentials'],
    },
    {
      text: 'the Serverless Devs fc3 component: cached, or Serverless Devs\' registry reachable from here on the first s deploy (docs/deploying.md, "The fc3 component")',
      verifiedBy: ['fc3 component'],
    },
    "the deploying RAM user: AliyunFCFullAccess and AliyunEventBridgeFullAccess; to create what s.yaml's `auto` creates, also AliyunLogFullAccess (log project), AliyunVPCFullAccess and AliyunNASFullAccess (the dead-letter store)",
    'EventBridge activated, and its service-linked role AliyunServiceRoleForEventBridgeSendToFC authorised (once per account): it invokes the bridge for each RocketMQ trigger',
    `the bridge's role (${shell['BRIDGE_ROLE_ARN'] || 'aliyunfcdefaultrole, or BRIDGE_ROLE_ARN'}): fc:InvokeFunction on ${d.names['dead-letter']} (its poison hand-off, and Function Compute's onFailure delivery of failed asynchronous invocations)`,
    `the dead-letter function's role (${shell['DEAD_LETTER_ROLE_ARN'] || 'aliyunfcdefaultrole, or DEAD_LETTER_ROLE_ARN'}): fc:InvokeFunction on ${d.names.bridge} (its timer's redrive invokes the bridge; without it every redrive fails)`,
    `the RAM user of npm run smoke (ALIBABA_CLOUD_ACCESS_KEY_ID): fc:InvokeFunction on ${d.names.bridge}`,
    'NAS activated: nasConfig: auto creates a file system for the dead letters (billed; docs/deploying.md, "What is billed")',
    ...enabled.map(
      (r) =>
        `RocketMQ: topic ${r.source.topic} and group ${r.source.groupId} exist on ${r.source.instanceId ?? r.source.endpoint ?? 'the source'} (${r.source.regionId}) for rule ${r.id}`,
    ),
  ]
  items.push(...parentTopicItems(env, model, ruleSet?.profile))
  if (env['FLEET_REDIS_URL'])
    items.push(
      `ApsaraDB for Redis / Tair at ${env['FLEET_REDIS_URL']}: in the bridge's VPC, the vSwitches' CIDR blocks in its whitelist, and the account ${env['FLEET_REDIS_USERNAME'] || '(default)'} able to run Lua scripts (docs/deploying.md, "The fleet store")`,
    )
  items.push(
    { text: `the rules valid, with no sample or placeholder IDs`, verifiedBy: ['rules', 'sample IDs'] },
    { text: "s.yaml's triggers written from the rules (npm run triggers)", verifiedBy: ['triggers'] },
    { text: 'dist/ built from these rules and this code (npm run build)', verifiedBy: ['build'] },
  )
  return items.map((i) => redact(`[${verified(i, findings) ? 'x' : ' '}] ${typeof i === 'string' ? i : i.text}`))
}

function verified(item: Item, findings: Finding[]): boolean {
  if (typeof item === 'string') return false
  return item.verifiedBy.every((check) => {
    const mine = findings.filter((f) => f.check === check)
    return mine.length > 0 && mine.every((f) => f.level === 'ok')
  })
}

/** In profile alibaba each parent topic must be created in the instance, or ApsaraMQ refuses every message to it. */
function parentTopicItems(env: Record<string, string>, model: RuleModel | undefined, profile: string | undefined): Item[] {
  if (!model) return []
  const topics = model.parentTopics.map((p) => `${p.topic} (${p.usedBy.map((u) => `${u.ruleId} ${u.outlet}`).join(', ')})`).join(', ')
  const any = model.rules.filter((r) => r.enabled && r.anyParent).map((r) => r.id)
  const anyNote = any.length > 0 ? `; and every parent topic the producers of ${any.join(', ')} choose (allowAnyParent)` : ''
  if (profile === 'alibaba') {
    const auth = env['MQTT_AUTH'] === 'signature'
    return [
      `ApsaraMQ for MQTT${env['MQTT_INSTANCE_ID'] ? ` ${env['MQTT_INSTANCE_ID']}` : ''}: the parent topics ${topics} created${anyNote}${auth ? `; Group ID ${env['MQTT_CLIENT_ID_PREFIX'] || 'GID_bridge'} created, and mq:PUB for the AccessKey in MQTT_ACCESS_KEY_ID` : ''}`,
    ]
  }
  return [
    `your MQTT broker: the bridge's user allowed to publish under ${model.parentTopics.map((p) => `${p.topic}/#`).join(', ')} (${topics})${anyNote} (an MQTT 5 broker that refuses them all, 0x87, fails every invocation as transient: docs/reliability.md)`,
  ]
}

export function deploymentSummary(d: LocalDeployment, ruleSet: RuleSet | undefined, model?: RuleModel): string[] {
  const secrets = new Set((ruleSet?.rules ?? []).flatMap((r) => (r.source.acl ? [r.source.acl.passwordEnv] : [])))
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
          `  ${''.padEnd(width)}  trigger rocketmq-${r.id}: RocketMQ ${r.source.instanceId ?? r.source.endpoint ?? ''} ${r.source.topic} (tags ${r.source.tags}, group ${r.source.groupId}) -> MQTT ${publishesTo(r, model?.rule(r.id))}${deadlineNote(r, ruleSet?.defaultDeadline)}`,
        )
    const shown = shownEnvironment(f.environment, secrets)
    if (shown) out.push(`  ${''.padEnd(width)}  environment: ${shown}`)
  }
  return out.map(redact)
}

/** `; deadline 10m from userProperties.sentAt, then dead-letter`, routes' own listed. */
function deadlineNote(rule: Rule, defaultDeadline: string | undefined): string {
  const d = deadlineOf(rule, defaultDeadline, 'target')
  const own = (rule.routes ?? []).flatMap((route, j) => (route.deadline !== undefined ? [`routes[${j}] ${route.deadline}`] : []))
  if (!d && own.length === 0) return ''
  const main = d
    ? `deadline ${d.text} from ${d.from !== undefined ? `userProperties.${d.from}` : "the event's time"}, then ${d.onExpired}`
    : 'no deadline'
  return `; ${main}${own.length > 0 ? ` (${own.join(', ')})` : ''}`
}
