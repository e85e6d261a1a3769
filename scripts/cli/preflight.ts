// npm run preflight: before `s deploy`, everything this machine can tell about whether it will work
// (docs/deploying.md). Every problem at once, so one hides no other; never a secret value, never the network.
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { messageOf } from '../../shared/errors.js'
import { redact, registerSecret } from '../../shared/logging/secrets.js'
import type { RuleModel } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { type LocalDeployment, readDeployment } from '../local/deployment.js'
import { buildState } from '../local/dist.js'
import { parseCommand, plural, readText, runAsMain } from './command.js'
import { checkEnvironment } from './preflight/environment-check.js'
import { type Finding, ok, problem, skipped, warning } from './preflight/finding.js'
import { checkFleet } from './preflight/fleet-check.js'
import { checklist, deploymentSummary } from './preflight/report.js'
import { checkAcl, checkRegion, checkRules, checkSamples, checkTriggers, triggersSkipped } from './preflight/rules-checks.js'
import { checkRendered, renderSYaml, schemaPath } from './preflight/s-yaml-check.js'
import { checkComponents, checkCredentials } from './preflight/serverless-devs.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** What `s deploy` resolves ${config('AccountID')} to; unknown here, and not needed by any check. */
const PLACEHOLDER_ACCOUNT = '<AccountID>'

export const USAGE = `usage: npm run preflight -- [--rules <rules-file>] [--s-yaml <s.yaml>]

Checks, before \`npx s deploy\`, what can be checked on this machine: rules.yaml (valid, no sample or
placeholder IDs, every source in REGION, ACL passwords set), the bridge's settings in this shell's
environment (with the bridge's own configuration schema), s.yaml's triggers against the rules, s.yaml
against the fc3 schema, the fc3 component in Serverless Devs' cache, the Serverless Devs credentials, and
dist/ up to date. Prints the checklist the account needs: every role's permissions and every MQTT parent
topic the rules publish to (their routes' included), [x] where a check here verified it.

  --rules FILE    the rules (default rules.yaml)
  --s-yaml FILE   the Serverless Devs file (default s.yaml)
  -h, --help      this text

exit status: 0 when nothing stops the deploy (it prints what will be deployed); 1 with every problem listed; 2 on a usage error`

export interface PreflightResult {
  findings: Finding[]
  deployment?: LocalDeployment
  ruleSet?: RuleSet
  model?: RuleModel
}

export async function preflight(o: { rulesPath: string; sYamlPath: string; env: NodeJS.ProcessEnv }): Promise<PreflightResult> {
  const findings: Finding[] = []
  const read = (path: string) => readText(path, (message) => findings.push(problem('files', message)))
  const rulesText = read(o.rulesPath)
  const sYamlText = read(o.sYamlPath)
  const rules: ReturnType<typeof checkRules> = rulesText === undefined ? { findings: [], sources: [] } : checkRules(o.rulesPath, rulesText)
  const { ruleSet, model, sources } = rules
  findings.push(...rules.findings)
  // Secrets named by the rules are known before anything could print them (invalid rules' too).
  for (const r of sources) if (typeof r.source.acl?.passwordEnv === 'string') registerSecret(o.env[r.source.acl.passwordEnv])
  let deployment: LocalDeployment | undefined
  if (sYamlText !== undefined) {
    try {
      deployment = readDeployment(o.sYamlPath, o.env, PLACEHOLDER_ACCOUNT)
    } catch (err) {
      findings.push(problem('s.yaml', messageOf(err)))
      findings.push(
        skipped('s.yaml', `not checked until ${o.sYamlPath} reads: the region, the bridge's settings, the credentials and dist/`),
      )
    }
  }
  // Invalid rules hide nothing: the sources are checked as far as they go.
  if (rulesText !== undefined) {
    findings.push(...checkSamples(sources), ...checkAcl(sources, o.env))
    if (deployment) findings.push(...checkRegion(sources, deployment.region))
    if (sYamlText !== undefined)
      findings.push(...(ruleSet ? checkTriggers(o.sYamlPath, sYamlText, o.rulesPath, ruleSet) : [triggersSkipped(o.rulesPath)]))
  }
  if (deployment) {
    findings.push(...checkEnvironment(deployment, ruleSet, o.env))
    if (sYamlText !== undefined) findings.push(...checkFleet(deployment, sYamlText))
    findings.push(...checkCredentials(deployment.access, o.env))
    // The project s.yaml belongs to: its dist/ is what s deploy uploads, built from its rules.yaml and code.
    const bundles = deployment.functions.map((f) => join(f.dir, 'index.js'))
    const state = buildState(dirname(resolve(o.sYamlPath)), bundles)
    findings.push(
      state.fresh
        ? ok('build', 'dist/ is up to date with rules.yaml and the code: s deploy uploads it as it is')
        : problem('build', `dist/ is not up to date (${state.why}): s deploy uploads it as it is; run npm run build`),
    )
  }
  if (sYamlText !== undefined) {
    findings.push(...checkComponents(sYamlText, o.env))
    findings.push(...checkRendered(await renderSYaml(root, o.sYamlPath, o.env), schemaPath(root, o.env)))
  }
  findings.push(
    warning(
      's preview',
      '`s preview` prints every environment value, secrets included (MQTT_PASSWORD, MQTT_ACCESS_KEY_SECRET, ACL passwords): never paste its output, and keep it out of shared terminals and CI logs. This check ran it and showed nothing of it.',
    ),
  )
  return { findings, deployment, ruleSet, model }
}

const MARK = { ok: '✓', problem: '✗', warning: '!', skipped: '-' } as const

export function report(result: PreflightResult, env: NodeJS.ProcessEnv): { lines: string[]; code: number } {
  const problems = result.findings.filter((f) => f.level === 'problem')
  const lines = ['Preflight: what s deploy needs, checked on this machine', '', 'Checks']
  for (const f of result.findings) lines.push(`  ${MARK[f.level]} ${f.check}: ${f.message}`)
  if (result.deployment)
    lines.push(
      '',
      'Before the first deploy ([x]: verified by the checks above; [ ]: for you to see to)',
      ...checklist(result.deployment, result.ruleSet, env, result.findings, result.model).map((l) => `  ${l}`),
    )
  lines.push('')
  if (problems.length > 0) {
    lines.push(
      `${plural(problems.length, 'problem')} (✗ above): fix ${problems.length === 1 ? 'it' : 'them'}, then run npm run preflight again.`,
    )
    return { lines: lines.map(redact), code: 1 }
  }
  if (result.deployment) lines.push(...deploymentSummary(result.deployment, result.ruleSet, result.model))
  const rule = result.ruleSet?.rules.find((r) => r.enabled)?.id ?? '<rule id>'
  lines.push('', `Nothing stops the deploy. Next: npx s deploy -t s.yaml, then npm run smoke -- --rule ${rule} (docs/deploying.md).`)
  return { lines: lines.map(redact), code: 0 }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, print = (l: string) => console.log(l)): Promise<number> {
  const options = { rules: { type: 'string', default: 'rules.yaml' }, 's-yaml': { type: 'string', default: 's.yaml' } } as const
  const args = parseCommand(argv, { options }, USAGE, { out: print, err: console.error }, ({ values }) => values)
  if (typeof args === 'number') return args
  const { lines, code } = report(await preflight({ rulesPath: args.rules, sYamlPath: args['s-yaml'], env }), env)
  for (const l of lines) print(l)
  return code
}

runAsMain(import.meta.url, main, { failed: 'npm run preflight failed: ' })
