// npm run build: one self-contained CommonJS bundle per function (dist/<function>/, Node 20), loaded through
// its V8 code cache (code-cache.ts), with the validated rules.yaml inlined into the bridge. Invalid rules fail
// the build before esbuild runs, each error once. Bundles are built in a staging directory beside dist/ and
// moved into place only when all are built: a failed build leaves the previous dist/ as it was.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions as EsbuildOptions, type Plugin } from 'esbuild'
import { messageOf, RulesError } from '../shared/errors.js'
import { validateRulesText } from '../shared/rules/validate.js'
import { parseCommand, runAsMain } from './cli/command.js'
import { BUNDLE_FILE, withCodeCache } from './code-cache.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const off = (name: string) => join(root, `scripts/${name}-off.cjs`)

export interface BuildOptions {
  rulesFile?: string
  outDir?: string
  /** Prints nothing: no `built` lines, no esbuild log (its errors still come back in the thrown error). */
  quiet?: boolean
}

// Libraries kept off the cold start, each a file beside the bundle required on first use (docs/architecture.md,
// "Build, deploy, local run"): fc2 for a dead letter, ioredis for FLEET_REDIS_URL, yaml for a YAML RULES_FILE, ws for ws://.
const BESIDE: Record<string, { entry: string; alias?: Record<string, string> }> = {
  fc2: { entry: '@alicloud/fc2' },
  // ioredis logs through `debug` as MQTT.js does; the bridge never enables it.
  ioredis: { entry: 'ioredis', alias: { debug: off('debug') } },
  yaml: { entry: 'yaml' },
  // Its CommonJS entry (the constructor itself, as MQTT.js requires it), not the ESM wrapper.
  ws: { entry: createRequire(import.meta.url).resolve('ws') },
}
const BESIDE_OF: Record<string, string[]> = { bridge: ['fc2', 'ioredis', 'yaml', 'ws'], 'dead-letter': ['fc2'] }

// MQTT.js calls `debug` on every packet and the bridge never enables it; SOCKS proxies and browser timers are
// never used: the stubs keep 100 KB off the cold start. `ws` is loaded on first use.
const BRIDGE_ALIAS = {
  debug: off('debug'),
  socks: off('socks'),
  'worker-timers': off('worker-timers'),
  ws: join(root, 'scripts/ws-apart.cjs'),
}

/** The dynamic imports of `@alicloud/fc2` and `ioredis`, and `./yaml.js` and `./ws.js`, become requires of the files beside. */
function beside(names: string[]): Plugin {
  return {
    name: 'beside',
    setup(b) {
      b.onResolve({ filter: /^(@alicloud\/fc2|ioredis)$/ }, (a) => {
        const name = a.path === 'ioredis' ? 'ioredis' : 'fc2'
        return a.kind === 'dynamic-import' && names.includes(name) ? { path: `./${name}.js`, external: true } : undefined
      })
      if (!names.includes('yaml')) return
      b.onResolve({ filter: /^\.\/(yaml|ws)\.js$/ }, (a) => ({ path: a.path, external: true }))
      b.onLoad({ filter: /shared[\\/]rules[\\/]yaml-library\.ts$/ }, () => ({
        contents: "let lib\nexport function yamlLibrary() { return (lib ??= require('./yaml.js')) }\n",
        loader: 'js',
      }))
    },
  }
}

/** Replaces functions/bridge/bundled-rules.ts with the validated rules, inlined as JSON. */
function inlineRules(rulesFile: string): Plugin {
  return {
    name: 'inline-rules',
    setup(b) {
      b.onLoad({ filter: /functions[\\/]bridge[\\/]bundled-rules\.ts$/ }, () => {
        const result = validateRulesText(readFileSync(rulesFile, 'utf8'))
        if (!result.ok) return { errors: result.errors.map((e) => ({ text: `${rulesFile}: ${e.path}: ${e.message}` })) }
        // The bridge validates again at cold start: one validator, and the normalised form is valid input.
        const { profile, defaultQos: qos, defaultTrigger: trigger, rules } = result.ruleSet
        const text = JSON.stringify({ defaults: { profile, qos, ...(trigger ? { trigger } : {}) }, rules })
        return {
          contents: `export function bundledRules() { return { text: ${JSON.stringify(text)}, origin: 'rules.yaml (bundled)' } }`,
          loader: 'js',
          watchFiles: [rulesFile],
        }
      })
    },
  }
}

export async function buildAll(options: BuildOptions = {}): Promise<string[]> {
  const rulesFile = resolve(options.rulesFile ?? join(root, 'rules.yaml'))
  const outDir = resolve(options.outDir ?? join(root, 'dist'))
  // Before esbuild: its own log would print each rules error again, with frames of its own.
  const rules = validateRulesText(readFileSync(rulesFile, 'utf8'))
  if (!rules.ok) throw new RulesError(`${rulesFile}; nothing was built, dist/ is as it was`, rules.errors)
  const functions = readdirSync(join(root, 'functions'))
    .filter((f) => existsSync(join(root, 'functions', f, 'index.ts')))
    .sort()
  // Beside outDir, so that the move into place is a rename on one file system.
  mkdirSync(dirname(outDir), { recursive: true })
  const staging = mkdtempSync(join(dirname(outDir), `.${basename(outDir)}-building-`))
  try {
    for (const fn of functions) await buildFunction(fn, join(staging, fn), rulesFile, options)
    mkdirSync(outDir, { recursive: true })
    for (const fn of functions) {
      const out = join(outDir, fn)
      if (existsSync(out)) renameSync(out, join(staging, `${fn}.previous`))
      renameSync(join(staging, fn), out)
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  if (!options.quiet)
    for (const fn of functions)
      console.log(`built dist/${fn}/index.js (${(readFileSync(join(outDir, fn, BUNDLE_FILE)).length / 1024).toFixed(0)} KB)`)
  return functions
}

async function buildFunction(fn: string, out: string, rulesFile: string, options: BuildOptions): Promise<void> {
  const names = BESIDE_OF[fn] ?? []
  mkdirSync(out, { recursive: true })
  const common: EsbuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: options.quiet ? 'silent' : 'warning',
    // @alicloud/fc2 does not bundle with proxy-agent inside (docs/architecture.md, "Known traps").
    external: ['proxy-agent'],
    // import() of the files beside as require: the code-cached loader compiles the bundle with vm.
    supported: { 'dynamic-import': false },
  }
  await build({
    ...common,
    entryPoints: [join(root, 'functions', fn, 'index.ts')],
    outfile: join(out, 'index.js'),
    plugins: [...(fn === 'bridge' ? [inlineRules(rulesFile)] : []), ...(names.length > 0 ? [beside(names)] : [])],
    ...(fn === 'bridge' ? { alias: BRIDGE_ALIAS } : {}),
  })
  for (const name of names)
    await build({ ...common, entryPoints: [BESIDE[name]!.entry], outfile: join(out, `${name}.js`), alias: BESIDE[name]!.alias ?? {} })
  withCodeCache(out)
  // The project is "type": "module"; these bundles are CommonJS, as Function Compute loads them.
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n')
}

const USAGE = `usage: npm run build [-- --rules <rules-file>]

One CommonJS bundle per function under dist/<function>/, with the validated rules inlined into the
bridge (rules.yaml by default). Invalid rules fail the build, each error listed.

  --rules <file>  build with these rules instead of rules.yaml
  -h, --help      this text`

async function main(argv: string[]): Promise<number> {
  const print = { out: console.log, err: console.error }
  const rules = parseCommand(argv, { options: { rules: { type: 'string' } } }, USAGE, print, ({ values }) => values.rules)
  if (typeof rules === 'number') return rules
  try {
    await buildAll(rules !== undefined ? { rulesFile: rules } : {})
    return 0
  } catch (err) {
    // esbuild has printed its own errors, with their frames, above: each once.
    const esbuildFailure = Array.isArray((err as { errors?: unknown }).errors) && !(err instanceof RulesError)
    console.error(esbuildFailure ? 'the build failed (the errors above); dist/ is as it was' : messageOf(err))
    return 1
  }
}

runAsMain(import.meta.url, main)
