// Serverless Devs' credentials for s.yaml's `access` alias. Without them, `s deploy` stops at the first
// ${config('AccountID')} with `config('AccountID') not found`. Serverless Devs reads aliases from
// <home>/.s/access.yaml (home: serverless_devs_config_home, else the user's), or takes AccessKeyID,
// AccessKeySecret and AccountID from the environment. Only the names are read here, never a value.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import YAML from 'yaml'
import { type Finding, ok, problem } from './finding.js'

export function accessFile(env: NodeJS.ProcessEnv): string {
  return join(env['serverless_devs_config_home'] || env['HOME'] || homedir(), '.s', 'access.yaml')
}

export function checkCredentials(alias: string, env: NodeJS.ProcessEnv): Finding[] {
  const fix = `run \`npx s config add -a ${alias}\` and enter the AccountID, AccessKeyID and AccessKeySecret of a RAM user made for deploying`
  if (env['AccessKeyID'] && env['AccessKeySecret'] && env['AccountID'])
    return [ok('credentials', 'Serverless Devs will use AccessKeyID, AccessKeySecret and AccountID from the environment')]
  const file = accessFile(env)
  let aliases: Record<string, unknown> = {}
  if (existsSync(file)) {
    try {
      aliases = (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>
    } catch {
      return [problem('credentials', `${file} is not valid YAML; ${fix}`)]
    }
  }
  const entry = aliases[alias] as Record<string, unknown> | undefined
  if (!entry)
    return [
      problem(
        'credentials',
        `no Serverless Devs credentials under the alias "${alias}" (s.yaml's access) in ${file}: s deploy would stop with \`config('AccountID') not found\`; ${fix}`,
      ),
    ]
  if (!entry['AccountID'])
    return [
      problem(
        'credentials',
        `the alias "${alias}" in ${file} has no AccountID: s deploy would stop with \`config('AccountID') not found\`; ${fix}`,
      ),
    ]
  return [ok('credentials', `Serverless Devs credentials: alias "${alias}" in ${file}, with an AccountID`)]
}
