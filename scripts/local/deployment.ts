// What `npm start` serves, read from s.yaml so the local run matches the deployment. Its ${…} expressions
// are resolved for the forms these fields use (${vars.x}, ${env('X', 'default')}, ${config('AccountID')});
// any other is an error that names the field.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import YAML from 'yaml'
import { SYamlError } from '../../shared/errors.js'
import type { LocalFunction } from './fc-functions.js'

/** The three functions by role, as the resource keys of s.yaml name them. */
const ROLES = ['bridge', 'validate-rules', 'dead-letter'] as const
export type Role = (typeof ROLES)[number]

export interface LocalDeployment {
  region: string
  /** s.yaml's `access`. */
  access: string
  /** `environment`: as `s deploy` sets it from this environment (secrets included: never print them). */
  functions: Array<LocalFunction & { role: Role; memory: number; timeout: number; environment: Record<string, string> }>
  names: Record<Role, string>
  /** The bridge's DEAD_LETTER_TARGET as s.yaml sets it. */
  deadLetterTarget: string
}

type Scope = { vars: Record<string, unknown>; env: NodeJS.ProcessEnv; accountId: string }

function resolveExpressions(text: string, scope: Scope, where: string, depth = 0): string {
  return text.replace(/\$\{([^}]*)\}/g, (_, inner: string) => {
    const expr = inner.trim()
    let m = /^vars\.([A-Za-z0-9_-]+)$/.exec(expr)
    if (m) {
      const v = scope.vars[m[1]!]
      if (v === undefined) throw new SYamlError(`${where}: \${${expr}} names no entry of vars`)
      if (depth > 5) throw new SYamlError(`${where}: vars refer to each other too deeply`)
      return resolveExpressions(String(v), scope, `vars.${m[1]}`, depth + 1)
    }
    m = /^env\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)$/.exec(expr)
    if (m) return scope.env[m[1]!] || (m[2] ?? '')
    if (/^config\(\s*'AccountID'\s*\)$/.test(expr)) return scope.accountId
    throw new SYamlError(`${where}: the local run cannot resolve \${${expr}}`)
  })
}

/** The first HTTP trigger of a function's triggers: its methods and authType (what the local /http/ path serves). */
function httpTriggerOf(triggers: unknown): LocalFunction['httpTrigger'] {
  if (!Array.isArray(triggers)) return undefined
  const t = triggers.find((x) => (x as { triggerType?: unknown })?.triggerType === 'http') as
    | { triggerConfig?: { methods?: unknown; authType?: unknown } }
    | undefined
  if (!t) return undefined
  const methods = Array.isArray(t.triggerConfig?.methods) ? t.triggerConfig.methods.map((m) => String(m).toUpperCase()) : ['GET', 'POST']
  return { methods, authType: String(t.triggerConfig?.authType ?? 'function') }
}

export function readDeployment(sYamlPath: string, env: NodeJS.ProcessEnv, accountId: string): LocalDeployment {
  let doc: unknown
  try {
    doc = YAML.parse(readFileSync(sYamlPath, 'utf8'))
  } catch (err) {
    throw new SYamlError(`${sYamlPath}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
  }
  const root = (doc ?? {}) as {
    access?: unknown
    vars?: Record<string, unknown>
    resources?: Record<string, { component?: string; props?: Record<string, unknown> }>
  }
  const scope: Scope = { vars: root.vars ?? {}, env, accountId }
  const base = dirname(resolve(sYamlPath))
  const str = (value: unknown, where: string): string => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new SYamlError(`${sYamlPath}: ${where} is missing`)
    return resolveExpressions(String(value), scope, `${sYamlPath}: ${where}`)
  }
  const num = (value: unknown, where: string, fallback: number): number => {
    if (value === undefined) return fallback
    const n = Number(str(value, where))
    if (!Number.isFinite(n)) throw new SYamlError(`${sYamlPath}: ${where} is not a number`)
    return n
  }

  const region = str(root.vars?.['region'] ?? 'cn-hangzhou', 'vars.region')
  const functions: LocalDeployment['functions'] = []
  const names = {} as Record<Role, string>
  let deadLetterTarget: string | undefined
  const onFailure: Array<{ from: string; arn: string }> = []
  for (const role of ROLES) {
    const resource = root.resources?.[role]
    if (!resource?.props || resource.component !== 'fc3') throw new SYamlError(`${sYamlPath}: resources.${role} (component fc3) is missing`)
    const p = resource.props
    const at = `resources.${role}.props`
    // A field by its path under props, and read as text or a number, named by that path in errors.
    const get = (path: string) => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], p)
    const text = (path: string, fallback?: string) => str(get(path) ?? fallback, `${at}.${path}`)
    const number = (path: string, fallback: number) => num(get(path), `${at}.${path}`, fallback)
    const name = text('functionName')
    const environment: Record<string, string> = {}
    for (const [k, v] of Object.entries((p['environmentVariables'] ?? {}) as Record<string, unknown>))
      environment[k] = str(v, `${at}.environmentVariables.${k}`)
    const fn: LocalDeployment['functions'][number] = {
      role,
      name,
      environment,
      dir: resolve(base, text('code')),
      handler: text('handler', 'index.handler'),
      timeout: number('timeout', 60),
      memory: number('memorySize', 512),
      // Function Compute's default when asyncInvokeConfig does not say (docs/platform-facts.md §5).
      maxAsyncRetryAttempts: number('asyncInvokeConfig.maxAsyncRetryAttempts', 3),
    }
    if (get('instanceLifecycleConfig.initializer.handler') !== undefined)
      fn.initializer = text('instanceLifecycleConfig.initializer.handler')
    if (get('instanceLifecycleConfig.preStop.handler') !== undefined) {
      fn.preStop = text('instanceLifecycleConfig.preStop.handler')
      fn.preStopTimeout = number('instanceLifecycleConfig.preStop.timeout', 10)
    }
    const http = httpTriggerOf(p['triggers'])
    if (http) fn.httpTrigger = http
    const destination = 'asyncInvokeConfig.destinationConfig.onFailure.destination'
    if (get(destination) !== undefined) onFailure.push({ from: name, arn: text(destination) })
    if (role === 'bridge' && environment['DEAD_LETTER_TARGET'] !== undefined) deadLetterTarget = environment['DEAD_LETTER_TARGET']
    names[role] = name
    functions.push(fn)
  }
  for (const { from, arn } of onFailure) {
    const target = /:functions\/([^/:]+)$/.exec(arn)?.[1] // acs:fc:<region>:<account>:functions/<name>
    if (target === undefined || !functions.some((f) => f.name === target)) {
      throw new SYamlError(`${sYamlPath}: ${from}'s onFailure destination ${arn} is not one of the three functions`)
    }
    functions.find((f) => f.name === from)!.onFailure = target
  }
  const access = typeof root.access === 'string' ? root.access : 'default'
  return { region, access, functions, names, deadLetterTarget: deadLetterTarget ?? `fc:${names['dead-letter']}` }
}
