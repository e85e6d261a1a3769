// npm run smoke: after `s deploy`, one synthetic message for a rule through a synchronous invoke of the deployed
// bridge, awaited on MQTT_URL where the bridge's own mapping sends it (docs/deploying.md).
import { type BridgeConfig, loadConfig } from '../../shared/config/bridge.js'
import { ConfigError, messageOf } from '../../shared/errors.js'
import { bridgeAnswerOf } from '../../shared/fc/bridge-answer.js'
import { BRIDGE_FUNCTION } from '../../shared/fc/functions.js'
import { redact } from '../../shared/logging/secrets.js'
import type { CompiledRule, RuleModel } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { bridgeSettings, connectSubscriber } from '../mqtt/subscriber.js'
import { type OptionValues, parseCommand, readText, runAsMain } from './command.js'
import { fcTarget } from './fc-target.js'
import { chooseSmokeMessage, SmokeFailure } from './smoke/message.js'
import { smokeToken } from './smoke/synthetic-event.js'

export const USAGE = `usage: npm run smoke -- [--rule ID] [--property K=V]… [--body TEXT] [--function NAME] [--rules FILE] [--timeout S]

After \`npx s deploy\`: invokes the deployed bridge synchronously with one synthetic message for a rule, and
waits for it on MQTT_URL with a subscriber to the topic the bridge's mapping gives for it.

  --rule ID        the rule to test (default: the first enabled rule of the rules file)
  --property K=V   a RocketMQ user property of the message (repeatable); default mqttSecondTopic=/smoke/<random>
  --body TEXT      the message body. Default: for a rule with routes, a JSON body and user properties made
                   from the first route its filter lets a message reach (each placeholder filled with
                   smoke-<random>); else "smoke test <message ID> <time>". Either way the message goes to a
                   topic no device subscribes to: <parent>/smoke/<random>, or the route's with smoke-<random>
  --function NAME  the bridge's function name (default ${BRIDGE_FUNCTION})
  --rules FILE     the rules the bridge was deployed with (default rules.yaml)
  --timeout S      seconds to wait for the message on MQTT_URL (default 30)
  -h, --help       this text

environment:
  Function Compute: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (ALIBABA_CLOUD_SECURITY_TOKEN with STS),
    ALIBABA_CLOUD_ACCOUNT_ID; ALIBABA_CLOUD_REGION or REGION (default: the rule's regionId); FC_ENDPOINT
    (default https://<account>.<region>.fc.aliyuncs.com; http://127.0.0.1:9000 for npm start)
  MQTT: MQTT_URL and the bridge's other MQTT_* variables, as for the bridge (docs/deploying.md); the
    subscriber connects as <MQTT_CLIENT_ID_PREFIX>@@@smoke<random>, so those credentials must be allowed to subscribe

exit status: 0 delivered; 1 not (the output says where it stopped); 2 on a usage error`

const OPTIONS = {
  rule: { type: 'string' },
  property: { type: 'string', multiple: true },
  body: { type: 'string' },
  function: { type: 'string', default: BRIDGE_FUNCTION },
  rules: { type: 'string', default: 'rules.yaml' },
  timeout: { type: 'string', default: '30' },
} as const

function readOptions(values: OptionValues<typeof OPTIONS>) {
  const properties: Record<string, string> = {}
  for (const p of values.property ?? []) {
    const eq = p.indexOf('=')
    if (eq < 1) throw new Error(`--property must be KEY=VALUE, not ${JSON.stringify(p)}`)
    properties[p.slice(0, eq)] = p.slice(eq + 1)
  }
  const timeout = Number(values.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new Error(`--timeout must be a number of seconds, not ${JSON.stringify(values.timeout)}`)
  return { ...values, properties, timeoutMs: timeout * 1000 }
}

function loadRules(path: string): { ruleSet: RuleSet; model: RuleModel } {
  const text = readText(path, (message) => {
    throw new SmokeFailure(message)
  })
  const result = validateRulesText(text)
  if (!result.ok) throw new SmokeFailure(`${path} is invalid: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`)
  return result
}

function pickRule(model: RuleModel, id: string | undefined): CompiledRule {
  const enabled = model.rules.filter((r) => r.enabled)
  if (id === undefined) {
    if (enabled.length === 0) throw new SmokeFailure('the rules have no enabled rule to test')
    return enabled[0]!
  }
  const rule = model.rule(id)
  if (!rule) throw new SmokeFailure(`no rule ${JSON.stringify(id)} in the rules (rules: ${model.rules.map((r) => r.id).join(', ')})`)
  if (!rule.enabled) throw new SmokeFailure(`rule ${id} is disabled: the bridge dead-letters its messages and it has no trigger`)
  return rule
}

export async function smoke(o: ReturnType<typeof readOptions>, env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<void> {
  const { ruleSet, model } = loadRules(o.rules)
  const rule = pickRule(model, o.rule)
  let config: BridgeConfig
  try {
    config = loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError)
      throw new SmokeFailure(`the subscriber takes the bridge's MQTT settings from the environment: ${err.message}`)
    throw err
  }
  const fc = fcTarget(env, 'the invoke', rule.rule.source.regionId)
  const { accountId, region, endpoint } = fc
  const token = smokeToken()
  // Where it must arrive: the bridge's own mapping of this event, as validate-rules previews it.
  const { message, expected, outlet } = chooseSmokeMessage({ rule, ruleSet, accountId, properties: o.properties, body: o.body, token })
  const s = rule.rule.source
  const tag = message.tag
  const parents = [...rule.parentTopics, ...(rule.anyParent ? ['any parent topic (allowAnyParent)'] : [])].join(', ')
  print(`Smoke test of ${o.function} at ${endpoint} (region ${region})`)
  print(`  rule        ${rule.id}: RocketMQ ${s.instanceId ?? s.endpoint ?? ''} ${s.topic}${tag ? ` (tag ${tag})` : ''} -> MQTT ${parents}`)
  print(`  message     ${message.messageId}, user properties ${JSON.stringify(message.userProperties)}`)
  print(`  expects     ${expected.topic}, QoS ${expected.qos} through ${outlet} (the bridge's mapping of it, from ${o.rules})`)

  const invoker = fc.invoker(130_000)
  // The one subscriber, with the bridge's own broker settings; a subscription the broker refuses is an error.
  const subscriber = await connectSubscriber({
    ...bridgeSettings(config, 'smoke'),
    topics: [expected.topic],
    qos: expected.qos,
    mqtt: { connectTimeout: Math.min(config.publishTimeoutMs, 15_000) },
  }).catch((err: unknown) => {
    throw new SmokeFailure(`the subscriber cannot subscribe on ${redact(config.mqttUrl)}: ${redact(messageOf(err))}`)
  })
  try {
    print(
      `  subscriber  ${new URL(config.mqttUrl).host} as ${subscriber.clientId}, MQTT ${subscriber.version === 5 ? '5' : '3.1.1'}, QoS ${subscriber.granted[0]} granted`,
    )
    const invokedAt = Date.now()
    let body: unknown
    try {
      body = (await invoker.invoke(o.function, JSON.stringify(message.event), 'Sync')).body
    } catch (err) {
      throw new SmokeFailure(`the invoke failed: ${messageOf(err)}`)
    }
    const summary = bridgeAnswerOf(body, o.function)
    const rules = Object.entries(summary.rules ?? {})
      .map(([id, n]) => `${id} ${n}`)
      .join(', ')
    print(
      `  invoked     request ${summary.requestId}: received ${summary.received}, published ${summary.published}${rules ? ` (${rules})` : ''}, dead-lettered ${summary.deadLettered}, ${summary.durationMs} ms`,
    )
    if (summary.published !== 1)
      throw new SmokeFailure(
        summary.deadLettered > 0
          ? 'the deployed bridge dead-lettered the message: its rules differ from these (npx s bridge logs -t s.yaml --search bridge.dead-letter says why)'
          : (summary.expired ?? 0) > 0
            ? "the deployed bridge found the message past its rule's delivery deadline: its clock, or its rules' deadline, differ from these (npx s bridge logs -t s.yaml --search bridge.expired-message gives its age)"
            : `the deployed bridge published ${summary.published} messages, not 1`,
      )
    const arrived = () => subscriber.messages.find((m) => m.topic === expected.topic && m.payload.equals(message.payload))
    const got = (await subscriber.waitUntil(() => arrived() !== undefined, o.timeoutMs)) ? arrived() : undefined
    if (!got)
      throw new SmokeFailure(
        `the bridge reported it published, but nothing arrived on ${expected.topic} within ${o.timeoutMs / 1000} s: is MQTT_URL the broker the deployed bridge publishes to?`,
      )
    print(`  received    ${expected.topic}, QoS ${got.qos}, ${message.payload.length} bytes, ${got.at - invokedAt} ms after the invoke`)
    print(`OK: the deployed bridge delivered a message for rule ${rule.id} to ${new URL(config.mqttUrl).host}`)
  } finally {
    await subscriber.close(false)
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, print = (l: string) => console.log(l)): Promise<number> {
  const o = parseCommand(argv, { options: OPTIONS }, USAGE, { out: print, err: console.error }, (p) => readOptions(p.values))
  if (typeof o === 'number') return o
  try {
    await smoke(o, env, (l) => print(redact(l)))
    return 0
  } catch (err) {
    print(redact(`FAILED: ${messageOf(err)}`))
    return 1
  }
}

runAsMain(import.meta.url, main, { exit: true })
