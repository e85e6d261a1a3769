// The V8 code cache beside each bundle (docs/performance.md, "Cold start and bundles"): compiling was the
// largest part of a bundle's load, so the build writes bundle.js, its code cache (made by loading it once in
// a child process) and index.js, a loader that compiles bundle.js with it. A cache V8 refuses costs its read.
import { execFileSync } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const BUNDLE_FILE = 'bundle.js'
export const CACHE_FILE = `${BUNDLE_FILE}.cache`

/** What index.js and the cache's maker share: the same source text, wrapped the same way, or V8 refuses the cache. */
const COMPILE = `const { readFileSync } = require('node:fs')
const { dirname } = require('node:path')
const { Script } = require('node:vm')
const Module = require('node:module')
function compile(filename, cachedData) {
  return new Script(Module.wrap(readFileSync(filename, 'utf8')), { filename, cachedData })
}
function run(script, filename) {
  const mod = { exports: {}, filename, id: filename, loaded: false }
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, dirname(filename))
  mod.loaded = true
  return mod.exports
}`

const LOADER = `'use strict'
// Loads ${BUNDLE_FILE} with the V8 code cache the build made (${CACHE_FILE}), which spares the cold start
// compiling it; a cache V8 refuses costs only its read (scripts/code-cache.ts, docs/performance.md).
${COMPILE}
const filename = require('node:path').join(__dirname, '${BUNDLE_FILE}')
let cachedData
try {
  cachedData = readFileSync(filename + '.cache')
} catch {}
module.exports = run(compile(filename, cachedData), filename)
`

const MAKER = `${COMPILE}
const filename = process.argv[1]
const script = compile(filename)
run(script, filename)
require('node:fs').writeFileSync(filename + '.cache', script.createCachedData())`

/** dist/<fn>/index.js (as esbuild wrote it) becomes bundle.js, its code cache, and the loader as index.js. */
export function withCodeCache(dir: string): void {
  const bundle = join(dir, BUNDLE_FILE)
  renameSync(join(dir, 'index.js'), bundle)
  // Loading the bundle runs only its top level (no function opens a connection at load).
  execFileSync(process.execPath, ['-e', MAKER, bundle], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '' },
  })
  writeFileSync(join(dir, 'index.js'), LOADER)
}
