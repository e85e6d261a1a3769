// npm run build: one self-contained CommonJS bundle per function (dist/<function>/index.js, Node 20),
// with the validated rules.yaml inlined into the bridge. Invalid rules fail the build before esbuild runs,
// each error listed once. Everything is built into a staging directory beside dist/ and moved into place
// only when every bundle is built: a failed build leaves the previous dist/ as it was.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build, type Plugin } from 'esbuild'
import { messageOf, RulesError } from '../shared/errors.js'
import { validateRulesText } from '../shared/rules/validate.js'
import { BUNDLE_FILE, withCodeCache } from './code-cache.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface BuildOptions {
  rulesFile?: string
  outDir?: string
  /** Prints nothing: no `built` lines, and no esbuild log (its errors still come back in the thrown error). */
  quiet?: boolean
}

/** Replaces functions/bridge/bundled-rules.ts with the validated rules, inlined as JSON. */
function inlineRules(rulesFile: string): Plugin {
  return {
    name: 'inline-rules',
    setup(b) {
      b.onLoad({ filter: /functions[\\/]bridge[\\/]bundled-rules\.ts$/ }, () => {
        const result = validateRulesText(readFileSync(rulesFile, 'utf8'))
        if (!result.ok) {
          return { errors: result.errors.map((e) => ({ text: `${rulesFile}: ${e.path}: ${e.message}` })) }
        }
        // The bridge validates again at cold start: one validator, and the normalised form is valid input.
        const text = JSON.stringify({
          defaults: {
            profile: result.ruleSet.profile,
            qos: result.ruleSet.defaultQos,
            ...(result.ruleSet.defaultTrigger ? { trigger: result.ruleSet.defaultTrigger } : {}),
          },
          rules: result.ruleSet.rules,
        })
        return {
          contents: `export function bundledRules() { return { text: ${JSON.stringify(text)}, origin: 'rules.yaml (bundled)' } }`,
          loader: 'js',
          watchFiles: [rulesFile],
        }
      })
    },
  }
}

/**
 * Keeps @alicloud/fc2 (about 1 MB, 70 ms to load) out of the bridge's and the dead-letter function's
 * bundles: its dynamic import becomes a require of fc2.js beside them, parsed only when a dead letter is
 * first handed off, or when the dead-letter timer first redrives an entry.
 */
const fc2Apart: Plugin = {
  name: 'fc2-apart',
  setup(b) {
    b.onResolve({ filter: /^@alicloud\/fc2$/ }, (a) => (a.kind === 'dynamic-import' ? { path: './fc2.js', external: true } : undefined))
  },
}

/**
 * Keeps ioredis (about 210 KB) out of the bridge's bundle: shared/fleet/redis-library.ts's dynamic import
 * becomes a require of ioredis.js beside it, made only when FLEET_REDIS_URL is set (docs/performance.md,
 * "The fleet store").
 */
const ioredisApart: Plugin = {
  name: 'ioredis-apart',
  setup(b) {
    b.onResolve({ filter: /^ioredis$/ }, (a) => (a.kind === 'dynamic-import' ? { path: './ioredis.js', external: true } : undefined))
  },
}

/**
 * Keeps libraries most instances never use off the bridge's cold start, each a file beside the bundle
 * required on first use: the YAML library (110 KB; the bundled rules are JSON, so
 * shared/rules/yaml-library.ts becomes a require of yaml.js, made only for a RULES_FILE in YAML) and `ws`
 * (50 KB and the http, https and zlib modules; scripts/ws-apart.cjs, used only for ws:// and wss:// URLs).
 */
const librariesApart: Plugin = {
  name: 'libraries-apart',
  setup(b) {
    b.onLoad({ filter: /shared[\\/]rules[\\/]yaml-library\.ts$/ }, () => ({
      contents: "let lib\nexport function yamlLibrary() { return (lib ??= require('./yaml.js')) }\n",
      loader: 'js',
    }))
    b.onResolve({ filter: /^\.\/(yaml|ws)\.js$/ }, (args) => ({ path: args.path, external: true }))
  },
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
      const old = join(staging, `${fn}.previous`)
      if (existsSync(out)) renameSync(out, old)
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
  const fc2Beside = fn === 'bridge' || fn === 'dead-letter'
  mkdirSync(out, { recursive: true })
  const common = {
    bundle: true,
    platform: 'node' as const,
    target: 'node20',
    format: 'cjs' as const,
    minify: true,
    keepNames: true,
    legalComments: 'none' as const,
    // Quiet: the errors still come back in the thrown error (and its `errors`), not as frames on stderr.
    logLevel: options.quiet ? ('silent' as const) : ('warning' as const),
    // @alicloud/fc2 does not bundle with proxy-agent inside (docs/architecture.md, "Known traps").
    external: ['proxy-agent'],
    // import() of the files beside the bundle as require: the code-cached loader (code-cache.ts) compiles it with vm.
    supported: { 'dynamic-import': false },
  }
  await build({
    ...common,
    entryPoints: [join(root, 'functions', fn, 'index.ts')],
    outfile: join(out, 'index.js'),
    plugins: fn === 'bridge' ? [inlineRules(rulesFile), fc2Apart, ioredisApart, librariesApart] : fc2Beside ? [fc2Apart] : [],
    // MQTT.js calls `debug` on every packet; the bridge never enables it (the sources, run with tsx, still can).
    // SOCKS proxies (MQTT.js's `socks`) and browser timers (`worker-timers`) are never used: the stubs keep
    // 100 KB off the cold start. WebSocket support is loaded on first use (librariesApart).
    ...(fn === 'bridge'
      ? {
          alias: {
            debug: join(root, 'scripts/debug-off.cjs'),
            socks: join(root, 'scripts/socks-off.cjs'),
            'worker-timers': join(root, 'scripts/worker-timers-off.cjs'),
            ws: join(root, 'scripts/ws-apart.cjs'),
          },
        }
      : {}),
  })
  if (fc2Beside) await build({ ...common, entryPoints: ['@alicloud/fc2'], outfile: join(out, 'fc2.js') })
  if (fn === 'bridge') {
    await build({ ...common, entryPoints: ['yaml'], outfile: join(out, 'yaml.js') })
    // ioredis logs through `debug` as MQTT.js does; the bridge never enables it.
    await build({
      ...common,
      entryPoints: ['ioredis'],
      outfile: join(out, 'ioredis.js'),
      alias: { debug: join(root, 'scripts/debug-off.cjs') },
    })
    // Its CommonJS entry (the constructor itself, as MQTT.js requires it), not the ESM wrapper an entry point resolves to.
    await build({ ...common, entryPoints: [createRequire(import.meta.url).resolve('ws')], outfile: join(out, 'ws.js') })
  }
  withCodeCache(out)
  // The project is "type": "module"; these bundles are CommonJS, as Function Compute loads them.
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n')
}

const USAGE = `usage: npm run build [-- --rules <rules-file>]

One CommonJS bundle per function under dist/<function>/, with the validated rules inlined into the
bridge (rules.yaml by default). Invalid rules fail the build, each error listed.

  --rules <file>  build with these rules instead of rules.yaml
  -h, --help      this text`

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let rules: string | undefined
  try {
    const { values } = parseArgs({ options: { rules: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true })
    if (values.help) {
      console.log(USAGE)
      process.exit(0)
    }
    rules = values.rules
  } catch (err) {
    console.error(`${messageOf(err)}\n${USAGE}`)
    process.exit(2)
  }
  buildAll(rules !== undefined ? { rulesFile: rules } : {}).catch((err) => {
    // esbuild has printed its own errors, with their frames, above: each once.
    const esbuildFailure = Array.isArray((err as { errors?: unknown }).errors) && !(err instanceof RulesError)
    console.error(esbuildFailure ? 'the build failed (the errors above); dist/ is as it was' : messageOf(err))
    process.exit(1)
  })
}
