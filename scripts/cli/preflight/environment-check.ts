// The bridge's settings through its own schema (loadConfig) on what s.yaml will give it, so a bad MQTT_URL
// shows here and not at the first cold start.
import { Bridge } from '../../../shared/bridge/bridge.js'
import { loadConfig } from '../../../shared/config/bridge.js'
import { ConfigError } from '../../../shared/errors.js'
import type { RuleSet } from '../../../shared/rules/schema.js'
import type { LocalDeployment } from '../../local/deployment.js'
import { placeholderShape, SAMPLE_IDS } from '../../local/sample-ids.js'
import { type Finding, ok, problem, warning } from './finding.js'

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/

const FUNCTION_VARIABLE = /^(MQTT_|DEAD_LETTER_|FLEET_)|^(RULES_FILE|FC_ENDPOINT|LOG_LEVEL|DUPLICATE_WINDOW)$/

export function checkEnvironment(deployment: LocalDeployment, ruleSet: RuleSet | undefined, env: NodeJS.ProcessEnv): Finding[] {
  const bridge = deployment.functions.find((f) => f.role === 'bridge')!
  // FC_FUNCTION_NAME as Function Compute sets it: the defaults that apply there (DEAD_LETTER_TARGET fc:…).
  const deployed = { ...bridge.environment, FC_FUNCTION_NAME: bridge.name }
  const out: Finding[] = []
  const bad = (text: string) => out.push(problem('environment', text))
  const warn = (text: string) => out.push(warning('environment', text))
  try {
    const config = loadConfig(deployed)
    if (ruleSet) new Bridge(config, ruleSet) // its own cross-checks (the client ID prefix against the profile); opens nothing
    out.push(ok('environment', `the bridge's settings are valid (${Object.keys(bridge.environment).length} variables from s.yaml)`))
    const host = new URL(config.mqttUrl).hostname
    const hostShape = (SAMPLE_IDS.brokerHosts as readonly string[]).includes(host)
      ? 'is the example host from the docs'
      : placeholderShape('MQTT_URL', host, false)
    if (hostShape) bad(`MQTT_URL: ${host} ${hostShape}; set your ApsaraMQ for MQTT endpoint or broker`)
    for (const name of ['MQTT_INSTANCE_ID', 'MQTT_CLIENT_ID_PREFIX', 'MQTT_USERNAME'] as const) {
      const shape = placeholderShape(name, bridge.environment[name])
      if (shape) bad(`${name}: ${JSON.stringify(bridge.environment[name])} ${shape}; set your own`)
    }
    // Left over from `npm start` or a smoke test against it: on Function Compute, loopback is the instance itself.
    for (const [name, url] of [
      ['MQTT_URL', config.mqttUrl],
      ['FC_ENDPOINT', bridge.environment['FC_ENDPOINT']],
      ['FLEET_REDIS_URL', config.fleet?.url],
    ] as const) {
      if (url && LOOPBACK.test(new URL(url).hostname))
        bad(`${name}: ${new URL(url).host} is this machine; deployed, the bridge would look for it inside its own instance`)
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const p of err.problems) bad(`${p.path}: ${p.message}`)
  }
  const passed = new Set(deployment.functions.flatMap((f) => Object.keys(f.environment)))
  for (const name of Object.keys(env).sort()) {
    if (FUNCTION_VARIABLE.test(name) && env[name] && !passed.has(name))
      warn(`${name} is set in this shell, but s.yaml does not pass it to any function: it has no effect on the deployment`)
  }
  const store = deployment.functions.find((f) => f.role === 'dead-letter')?.environment['DEAD_LETTER_DIR']
  if (store?.startsWith('/tmp')) warn(`DEAD_LETTER_DIR is ${store}: dead letters there are lost with the instance (docs/deploying.md, NAS)`)
  return out
}
