// npm run build: one self-contained CommonJS bundle per function (dist/<function>/index.js, Node 20),
// with the validated rules.yaml inlined into the bridge. Invalid rules fail the build.
import { build, type Plugin } from 'esbuild'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateRulesText } from '../shared/rules-validate.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface BuildOptions {
  rulesFile?: string
  outDir?: string
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
        const text = JSON.stringify({ defaults: { profile: result.ruleSet.profile, qos: result.ruleSet.defaultQos, ...(result.ruleSet.defaultTrigger ? { trigger: result.ruleSet.defaultTrigger } : {}) }, rules: result.ruleSet.rules })
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
  const functions = readdirSync(join(root, 'functions')).filter((f) => existsSync(join(root, 'functions', f, 'index.ts'))).sort()
  for (const fn of functions) {
    const out = join(outDir, fn)
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out, { recursive: true })
    await build({
      entryPoints: [join(root, 'functions', fn, 'index.ts')],
      outfile: join(out, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      keepNames: true,
      legalComments: 'none',
      logLevel: 'warning',
      // @alicloud/fc2 does not bundle with proxy-agent inside (DESIGN.md, "Known traps").
      external: ['proxy-agent'],
      plugins: fn === 'bridge' ? [inlineRules(rulesFile)] : [],
    })
    // The project is "type": "module"; these bundles are CommonJS, as Function Compute loads them.
    writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n')
    if (!options.quiet) console.log(`built dist/${fn}/index.js (${(readFileSync(join(out, 'index.js')).length / 1024).toFixed(0)} KB)`)
  }
  return functions
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rulesArg = process.argv.indexOf('--rules')
  buildAll(rulesArg > 0 ? { rulesFile: process.argv[rulesArg + 1]! } : {}).catch((err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
