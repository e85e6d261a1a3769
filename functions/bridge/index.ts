// Function Compute entry point: RocketMQ trigger event -> MQTT publishes. Thin by design: the bridge
// (and its connection pool) is built once per instance and reused by every warm invocation.
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import type { FcContext } from '../../shared/fc/context.js'
import { bundledRules } from './bundled-rules.js'

let bridge: Bridge | undefined

function instance(): Bridge {
  // Invalid configuration or rules throw here, at cold start, with every problem listed.
  bridge ??= Bridge.fromEnvironment(process.env, bundledRules)
  return bridge
}

export async function initialize(context: FcContext): Promise<void> {
  await instance().initialize(context)
}

export async function handler(event: unknown, context: FcContext): Promise<Summary> {
  return instance().handle(event, context)
}

/** Closes the pool; for local runs and tests (Function Compute simply freezes the instance). */
export async function shutdown(): Promise<void> {
  const b = bridge
  bridge = undefined
  await b?.close()
}
