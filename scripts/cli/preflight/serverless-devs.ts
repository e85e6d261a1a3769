// What Serverless Devs (`s`, @serverless-devs/s 3.x) keeps on this machine: the fc3 component's cache and the
// credentials of s.yaml's access alias. Read from disk only: never the network, never a credential's value.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { type Finding, ok, problem, warning } from './finding.js'

const CHECK = 'fc3 component'
const DEFAULT_REGISTRY = 'https://api.devsapp.cn/v3'
const home = (env: NodeJS.ProcessEnv) => env['serverless_devs_config_home'] || env['HOME'] || homedir()

/** As s's lib/index.js finds it: `<home>/.s`, unless `<home>/.s/config/s.json` names a `workspace`. */
export function serverlessDevsRoot(env: NodeJS.ProcessEnv): string {
  const dotS = join(home(env), '.s')
  const workspace = readJson(join(dotS, 'config', 's.json'))?.['workspace']
  return typeof workspace === 'string' && workspace !== '' ? workspace.replace(/~/, home(env)) : dotS
}

/** A JSON file's value; undefined when it is missing or unreadable, as `s` takes it. */
function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

function readYaml(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {}
  return (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>
}

/**
 * The components s.yaml names, each in s's cache once its `.s.lock` is written; uncached, the first s deploy
 * downloads it (docs/deploying.md, "The fc3 component"). s ignores HTTPS_PROXY: only `s set proxy` counts.
 */
export function checkComponents(sYamlText: string, env: NodeJS.ProcessEnv): Finding[] {
  let settings: Record<string, unknown> = {}
  try {
    settings = readYaml(join(serverlessDevsRoot(env), 'set-config.yml'))
  } catch {}
  const registry = typeof settings['registry'] === 'string' ? settings['registry'] : DEFAULT_REGISTRY
  const doc = YAML.parse(sYamlText) as { resources?: Record<string, { component?: unknown }> } | null
  const names = Object.values(doc?.resources ?? {}).flatMap((r) => (typeof r?.component === 'string' ? [r.component] : []))
  const out: Finding[] = []
  for (const component of new Set(names)) {
    const dir = join(serverlessDevsRoot(env), 'components', 'devsapp.cn', 'v3', component)
    const lock = join(dir, '.s.lock')
    if (existsSync(lock)) {
      const v = readJson(lock)?.['version']
      const version = typeof v === 'string' ? ` ${v}` : ''
      out.push(ok(CHECK, `${component}${version} is cached in ${dir}: s deploy needs no download for it`))
      continue
    }
    const proxy = env['HTTPS_PROXY'] || env['https_proxy'] || env['HTTP_PROXY'] || env['http_proxy']
    const how =
      settings['proxy_enable'] === true
        ? 's is set to go through the proxy in set-config.yml (s set proxy)'
        : proxy
          ? 'HTTPS_PROXY is set in this shell, but s ignores it: run `npx s set proxy --enable --https_proxy <proxy URL>`, or pre-fetch it'
          : 'behind a proxy that fails with a bare ENOTFOUND: run `npx s set proxy --enable --https_proxy <proxy URL>`, or pre-fetch it'
    out.push(
      warning(
        CHECK,
        `${component} is not cached in ${dir}: the first s deploy downloads it from Serverless Devs' registry (${registry}, not npm), which this check does not try to reach; ${how} (docs/deploying.md, "The fc3 component")`,
      ),
    )
  }
  return out
}

/** The access alias in `<home>/.s/access.yaml`, or AccessKeyID, AccessKeySecret and AccountID in the environment. */
export function checkCredentials(alias: string, env: NodeJS.ProcessEnv): Finding[] {
  const fix = `run \`npx s config add -a ${alias}\` and enter the AccountID, AccessKeyID and AccessKeySecret of a RAM user made for deploying`
  if (env['AccessKeyID'] && env['AccessKeySecret'] && env['AccountID'])
    return [ok('credentials', 'Serverless Devs will use AccessKeyID, AccessKeySecret and AccountID from the environment')]
  const file = join(home(env), '.s', 'access.yaml')
  let aliases: Record<string, unknown>
  try {
    aliases = readYaml(file)
  } catch {
    return [problem('credentials', `${file} is not valid YAML; ${fix}`)]
  }
  const entry = aliases[alias] as Record<string, unknown> | undefined
  const stops = "s deploy would stop with `config('AccountID') not found`"
  if (!entry)
    return [
      problem('credentials', `no Serverless Devs credentials under the alias "${alias}" (s.yaml's access) in ${file}: ${stops}; ${fix}`),
    ]
  if (!entry['AccountID']) return [problem('credentials', `the alias "${alias}" in ${file} has no AccountID: ${stops}; ${fix}`)]
  return [ok('credentials', `Serverless Devs credentials: alias "${alias}" in ${file}, with an AccountID`)]
}
