// `npm start` serves the BUILT bundles, rebuilt when one is missing or older than what goes into it.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { messageOf } from '../../shared/errors.js'
import { buildAll } from '../build.js'

export type BuildState = { fresh: true } | { fresh: false; why: string }

function newest(path: string): number {
  if (!existsSync(path)) return 0
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return readdirSync(path).reduce((m, f) => Math.max(m, newest(join(path, f))), s.mtimeMs)
}

export function buildState(root: string, bundles: string[]): BuildState {
  const missing = bundles.filter((b) => !existsSync(b))
  if (missing.length > 0) return { fresh: false, why: `${missing.map((m) => m.slice(root.length + 1)).join(', ')} missing` }
  const built = Math.min(...bundles.map((b) => statSync(b).mtimeMs))
  const sources = ['rules.yaml', 'functions', 'shared', join('scripts', 'build.ts'), join('scripts', 'code-cache.ts')]
  const changed = sources.filter((s) => newest(join(root, s)) > built)
  return changed.length > 0 ? { fresh: false, why: `${changed.join(', ')} changed since the last build` } : { fresh: true }
}

/** Builds when needed; returns what it did, for the output. Invalid rules throw with every error listed. */
export async function ensureBuilt(root: string, bundles: string[]): Promise<string> {
  const state = buildState(root, bundles)
  if (state.fresh) return 'dist/ is up to date'
  try {
    await buildAll({ quiet: true })
  } catch (err) {
    // esbuild's BuildFailure lists each problem in `errors`; rules.yaml problems arrive that way.
    const texts = ((err as { errors?: Array<{ text?: string }> }).errors ?? [])
      .map((e) => e.text)
      .filter((t): t is string => typeof t === 'string')
    throw new Error(`cannot build dist/ (${state.why}):\n${(texts.length > 0 ? texts : [messageOf(err)]).map((t) => `  ${t}`).join('\n')}`)
  }
  return `built dist/ (${state.why})`
}
