// The Serverless Devs components s.yaml uses (fc3). They are not npm packages: on first use, `s deploy`
// downloads each from Serverless Devs' own registry (https://api.devsapp.cn/v3, unless `s set registry`
// says otherwise) into its cache, and behind a proxy it fails with a bare ENOTFOUND (docs/deploying.md,
// "The fc3 component"). This check looks for the cached copy only: it never goes to the network.
//
// Where `s` keeps it (@serverless-devs/s 3.x, read from its lib/index.js): the root home is
// `$serverless_devs_config_home/.s`, else `~/.s`, unless `<that>/config/s.json` names a `workspace`; a
// component `<name>[@<version>]` is cached in `<root>/components/devsapp.cn/v3/<name>[@<version>]`, and is
// complete once its `.s.lock` is written (`{"version", "lastUpdateCheck"}`). `s` goes through a proxy only
// when `s set proxy --enable --https_proxy …` wrote proxy_enable into `<root>/set-config.yml`; it ignores
// HTTPS_PROXY in the environment.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { type Finding, ok, warning } from './finding.js'

const CHECK = 'fc3 component'
export const DEFAULT_REGISTRY = 'https://api.devsapp.cn/v3'

/** The directory `s` keeps its cache, settings and credentials in. */
export function serverlessDevsRoot(env: NodeJS.ProcessEnv): string {
  const base = env['serverless_devs_config_home'] || env['HOME'] || homedir()
  const dotS = join(base, '.s')
  const settings = join(dotS, 'config', 's.json')
  if (existsSync(settings)) {
    try {
      const workspace = (JSON.parse(readFileSync(settings, 'utf8')) as { workspace?: unknown }).workspace
      if (typeof workspace === 'string' && workspace !== '') return workspace.replace(/~/, base)
    } catch {
      // As `s` does: an unreadable s.json is as none.
    }
  }
  return dotS
}

/** Where `s` caches a component: `fc3` or `fc3@0.1.2`, as s.yaml's `component:` writes it. */
export function componentCachePath(env: NodeJS.ProcessEnv, component: string): string {
  return join(serverlessDevsRoot(env), 'components', 'devsapp.cn', 'v3', component)
}

/** The components s.yaml's resources name, each once. */
export function componentsOf(sYamlText: string): string[] {
  const doc = YAML.parse(sYamlText) as { resources?: Record<string, { component?: unknown }> } | null
  const names = Object.values(doc?.resources ?? {}).flatMap((r) => (typeof r?.component === 'string' ? [r.component] : []))
  return [...new Set(names)]
}

function globalSettings(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file = join(serverlessDevsRoot(env), 'set-config.yml')
  if (!existsSync(file)) return {}
  try {
    return (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>
  } catch {
    return {}
  }
}

export function checkComponents(sYamlText: string, env: NodeJS.ProcessEnv): Finding[] {
  const settings = globalSettings(env)
  const registry = typeof settings['registry'] === 'string' ? settings['registry'] : DEFAULT_REGISTRY
  const proxied = settings['proxy_enable'] === true
  const out: Finding[] = []
  for (const component of componentsOf(sYamlText)) {
    const dir = componentCachePath(env, component)
    const lock = join(dir, '.s.lock')
    if (existsSync(lock)) {
      let version = ''
      try {
        const v = (JSON.parse(readFileSync(lock, 'utf8')) as { version?: unknown }).version
        if (typeof v === 'string') version = ` ${v}`
      } catch {}
      out.push(ok(CHECK, `${component}${version} is cached in ${dir}: s deploy needs no download for it`))
      continue
    }
    const proxy = env['HTTPS_PROXY'] || env['https_proxy'] || env['HTTP_PROXY'] || env['http_proxy']
    const how = proxied
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
