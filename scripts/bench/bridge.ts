// The bridge as Function Compute runs it: the built bundle, configured through process.env, called with the event
// as a Buffer. One module serves every scenario: shutdown() makes the next call build a new bridge from the environment.
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { build } from 'esbuild'
import { buildAll } from '../build.js'
import { BUNDLE_FILE, withCodeCache } from '../code-cache.js'
import { BENCH_RULES, cloudEventBatch } from './messages.js'
import type { Publisher, ScenarioShape } from './publishers.js'

export interface BridgeModule {
  initialize(context: unknown): Promise<void>
  handler(event: Buffer, context: unknown): Promise<{ received: number; published: number; deadLettered: number; duplicates: number }>
  shutdown(): Promise<void>
}

/** The bundles with the bench rules inlined, their sizes, and MQTT.js alone, bundled like the bridge. */
export async function buildBundles(work: string) {
  const rulesFile = join(work, 'bench-rules.yaml')
  writeFileSync(rulesFile, BENCH_RULES)
  const dir = join(work, 'dist')
  await buildAll({ rulesFile, outDir: dir, quiet: true })
  // The bundle itself, not index.js, its code-cached loader (scripts/code-cache.ts).
  const sizes: Record<string, number> = {}
  for (const fn of readdirSync(dir).sort()) sizes[`dist/${fn}/index.js`] = statSync(join(dir, fn, BUNDLE_FILE)).size
  // The cold start's reference, bundled and loaded as the bridge is: what any function speaking MQTT pays to load.
  const mqttAlone = join(work, 'mqtt-alone', 'index.js')
  const options = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, legalComments: 'none' } as const
  await build({ ...options, logLevel: 'silent', entryPoints: [createRequire(import.meta.url).resolve('mqtt')], outfile: mqttAlone })
  withCodeCache(dirname(mqttAlone))
  sizes['MQTT.js alone'] = statSync(join(dirname(mqttAlone), BUNDLE_FILE)).size
  return { dir, rulesFile, sizes, mqttAlone }
}

export const loadBridge = (bundles: { dir: string }) =>
  createRequire(import.meta.url)(join(bundles.dir, 'bridge', 'index.js')) as BridgeModule

/** `rateLimit`: MQTT_RATE_LIMIT; unset, no pacing. */
export type BridgeShape = Pick<ScenarioShape, 'url' | 'version' | 'caFile'> & { pool: number; deadLetterDir: string; rateLimit?: number }

/** The environment the bridge reads; every key the bench sets, so nothing leaks in from the shell. */
export function bridgeEnv({ url, pool, version, deadLetterDir, caFile, rateLimit = 0 }: BridgeShape): Record<string, string> {
  return {
    MQTT_URL: url,
    // Empty means unset: a CA file with a plain mqtt:// URL is refused.
    MQTT_CA_FILE: caFile ?? '',
    MQTT_POOL_SIZE: String(pool),
    MQTT_PROTOCOL_VERSION: String(version),
    DEAD_LETTER_TARGET: `file:${deadLetterDir}`,
    MQTT_PUBLISH_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'info',
    // 0: no pacing (the rate bench sets it per scenario).
    MQTT_RATE_LIMIT: String(rateLimit),
  }
}

/** Function Compute's context; its logger keeps warnings and errors in `problems`, debug lines go to `debug`. */
export function fcContext(requestId: string, problems: string[], debug: (line: string) => void = () => {}): unknown {
  const keep = (level: string) => (line: string) => {
    if (problems.length < 20) problems.push(`${level} ${line}`)
  }
  return {
    requestId,
    function: { name: 'rocketmq-mqtt-bridge', timeout: 60 },
    logger: { debug, info: () => {}, warn: keep('warn'), error: keep('error') },
  }
}

let requests = 0

export async function openBridge(mod: BridgeModule, shape: ScenarioShape & BridgeShape, problems: string[]): Promise<Publisher> {
  await mod.shutdown()
  delete process.env['RULES_FILE']
  Object.assign(process.env, bridgeEnv(shape))
  await mod.initialize(fcContext(`init-${requests++}`, problems))
  return {
    name: `bridge pool ${shape.pool}`,
    prepare(key, count) {
      const event = cloudEventBatch(key, count, shape.qos)
      const context = fcContext(`req-${requests++}`, problems)
      return async () => {
        const summary = await mod.handler(event, context)
        if (summary.published !== count)
          throw new Error(
            `the bridge published ${summary.published} of ${count} (dead-lettered ${summary.deadLettered}, duplicates ${summary.duplicates}): ${problems.join('; ')}`,
          )
      }
    },
    close: () => mod.shutdown(),
  }
}
