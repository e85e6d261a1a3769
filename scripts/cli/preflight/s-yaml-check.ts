// s.yaml as `s preview -o json` renders it (offline), against the fc3 component's JSON schema (FC3_SCHEMA, or the
// reference folder beside the checkout), with the trigger configs held to the shapes the schema defines.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { type Finding, ok, problem, skipped } from './finding.js'

const run = promisify(execFile)

export interface Rendered {
  resources: Record<string, { component?: string; props: Record<string, unknown> & { triggers?: Array<Record<string, unknown>> } }>
}

// A temporary HOME keeps `s` from the user's credentials; its stdout holds secrets, so it is parsed, never printed.
export async function renderSYaml(root: string, sYamlPath: string, env: NodeJS.ProcessEnv): Promise<Rendered | { error: string }> {
  const home = mkdtempSync(join(tmpdir(), 'preflight-s-'))
  try {
    const { stdout } = await run(join(root, 'node_modules/.bin/s'), ['preview', '-t', resolve(sYamlPath), '-o', 'json'], {
      cwd: dirname(resolve(sYamlPath)),
      env: { ...env, HOME: home },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    })
    const start = stdout.indexOf('{')
    if (start < 0) return { error: 's preview printed no JSON' }
    return JSON.parse(stdout.slice(start)) as Rendered
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}\n${(err as { stderr?: string }).stderr ?? ''}`
    // Its own words, from "Error Message:" to the first blank line; never the rest (it may hold values).
    const m = /Error Message:\s*\n([\s\S]*?)\n\s*\n/.exec(out)
    const lines = (m?.[1] ?? (err as Error).message).split('\n').filter((l) => !/^\s*(\d+\||>>|\^)/.test(l))
    return { error: lines.join(' ').replace(/\s+/g, ' ').trim().slice(0, 300) }
  } finally {
    // `s` may still be writing into it a moment after it exits (ENOTEMPTY): a leftover never fails the check.
    try {
      rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
    } catch {}
  }
}

export function schemaPath(root: string, env: NodeJS.ProcessEnv): string {
  return env['FC3_SCHEMA'] ?? resolve(root, '../shared/reference/fc3-schema.json')
}

export function checkRendered(rendered: Rendered | { error: string }, path: string): Finding[] {
  if ('error' in rendered) return [problem('fc3 schema', `s preview cannot render s.yaml, so s deploy would stop too: ${rendered.error}`)]
  if (!existsSync(path))
    return [skipped('fc3 schema', `the fc3 component's schema is not at ${path}; set FC3_SCHEMA to check s.yaml against it`)]
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(schema)
  const definitions = schema['definitions'] as Record<string, unknown>
  const configs: Record<string, ReturnType<typeof ajv.compile>> = {}
  for (const [type, name] of Object.entries({ eventbridge: 'IEventBridge', http: 'IHttpTriggerConfig' }))
    if (definitions?.[name]) configs[type] = ajv.compile({ definitions, $ref: `#/definitions/${name}` })
  const out: Finding[] = []
  for (const [name, resource] of Object.entries(rendered.resources)) {
    if (!validate(resource.props))
      out.push(problem('fc3 schema', `resources.${name}.props: ${ajv.errorsText(validate.errors, { dataVar: 'props' })}`))
    for (const t of resource.props.triggers ?? []) {
      const check = configs[String(t['triggerType'])]
      if (check && !check(t['triggerConfig'])) {
        const errors = ajv.errorsText(check.errors, { dataVar: 'triggerConfig' })
        out.push(problem('fc3 schema', `resources.${name} trigger ${String(t['triggerName'])}: ${errors}`))
      }
    }
  }
  const resources = Object.keys(rendered.resources).length
  if (out.length === 0) out.push(ok('fc3 schema', `s.yaml as s preview renders it is valid against ${path} (${resources} resources)`))
  return out
}
