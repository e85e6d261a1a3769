// npm run replay -- [--dir D] [--reason R] [--dry-run] [--target local|fc] [--function NAME]
//
// Sends stored dead letters back through the bridge, oldest first, one message per bridge invocation
// (so each outcome is known), and marks each one replayed only after the bridge delivered it. Entries
// already replayed are skipped, so a second run sends nothing twice. A message the bridge dead-letters
// again stays pending (and the store records the new failure).
//
//   --target local  an in-process bridge built from the environment (MQTT_URL, RULES_FILE, …)
//   --target fc     a synchronous invoke of the deployed bridge through @alicloud/fc2; needs
//                   ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (and
//                   ALIBABA_CLOUD_SECURITY_TOKEN for STS), ALIBABA_CLOUD_ACCOUNT_ID, ALIBABA_CLOUD_REGION
//                   (or FC_REGION), and optionally FC_ENDPOINT (default: the region's public endpoint)
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { bundledRules } from '../../functions/bridge/bundled-rules.js'
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import { DEFAULT_DEAD_LETTER_DIR } from '../../shared/config/bridge.js'
import { type DeadLetterEntry, markReplayed, readDeadLetters } from '../../shared/dead-letters/store.js'
import { messageOf } from '../../shared/errors.js'
import type { FcContext } from '../../shared/fc/context.js'
import { FcInvoker, publicEndpoint } from '../../shared/fc/invoke.js'
import { redact } from '../../shared/logging/secrets.js'

export const DEFAULT_BRIDGE_FUNCTION = 'rocketmq-mqtt-bridge'

export interface ReplayOptions {
  dir: string
  reason?: string
  dryRun?: boolean
  target: 'local' | 'fc'
  functionName?: string
  env?: NodeJS.ProcessEnv
  /** Progress and result lines; default stderr. */
  print?: (line: string) => void
}

export interface ReplayResult {
  /** Entries matching the filter that were not replayed yet. */
  pending: number
  replayed: number
  /** The bridge dead-lettered them again: still pending. */
  deadLetteredAgain: number
  /** The bridge invocation failed (transient): still pending. */
  failed: number
  /** Already replayed before this run. */
  skipped: number
  errors: Array<{ key: string; messageId?: string; error: string }>
}

/** The event the bridge is sent for one entry: the stored batch entry as a one-message batch. */
export function replayEvent(entry: DeadLetterEntry): Buffer {
  if (typeof entry.event === 'string') return Buffer.from(entry.event, 'utf8')
  return Buffer.from(JSON.stringify([entry.event]), 'utf8')
}

type Send = (event: Buffer, requestId: string) => Promise<Summary>

async function localSender(env: NodeJS.ProcessEnv): Promise<{ send: Send; close: () => Promise<void> }> {
  const bridge = Bridge.fromEnvironment(env, bundledRules)
  const context = (requestId: string): FcContext => ({ requestId, function: { name: 'replay', timeout: 60 } })
  return { send: (event, requestId) => bridge.handle(event, context(requestId)), close: () => bridge.close() }
}

function fcSender(env: NodeJS.ProcessEnv, functionName: string): { send: Send; close: () => Promise<void> } {
  const need = (name: string, ...alternatives: string[]) => {
    for (const n of [name, ...alternatives]) if (env[n]) return env[n]!
    throw new Error(`--target fc needs ${[name, ...alternatives].join(' or ')} in the environment`)
  }
  const accountId = need('ALIBABA_CLOUD_ACCOUNT_ID', 'FC_ACCOUNT_ID')
  const region = need('ALIBABA_CLOUD_REGION', 'FC_REGION')
  const token = env['ALIBABA_CLOUD_SECURITY_TOKEN']
  const invoker = new FcInvoker({
    accountId,
    region,
    credentials: {
      accessKeyId: need('ALIBABA_CLOUD_ACCESS_KEY_ID'),
      accessKeySecret: need('ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
      ...(token ? { securityToken: token } : {}),
    },
    endpoint: (env['FC_ENDPOINT'] || publicEndpoint(accountId, region)).replace(/\/$/, ''),
    timeoutMs: 120_000,
  })
  return {
    async send(event) {
      const result = await invoker.invoke(functionName, event, 'Sync')
      const summary = result.body as Partial<Summary> | null
      if (typeof summary !== 'object' || summary === null || typeof summary.published !== 'number') {
        throw new Error(
          `${functionName} answered with something that is not a bridge summary: ${JSON.stringify(result.body).slice(0, 200)}`,
        )
      }
      return summary as Summary
    },
    close: async () => {},
  }
}

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const print = options.print ?? ((line: string) => process.stderr.write(line + '\n'))
  const env = options.env ?? process.env
  const all = await readDeadLetters(options.dir)
  const needle = options.reason?.toLowerCase()
  const matching = all.filter((e) => needle === undefined || e.reason.toLowerCase().includes(needle))
  const todo = matching.filter((e) => e.replayedAt === undefined).sort((a, b) => a.firstFailureAt.localeCompare(b.firstFailureAt))
  const result: ReplayResult = {
    pending: todo.length,
    replayed: 0,
    deadLetteredAgain: 0,
    failed: 0,
    skipped: matching.length - todo.length,
    errors: [],
  }
  print(
    `${todo.length} dead letter${todo.length === 1 ? '' : 's'} to replay from ${options.dir}${options.reason ? ` (reason contains "${options.reason}")` : ''}; ${result.skipped} already replayed`,
  )
  if (options.dryRun) {
    for (const e of todo) print(`  would replay ${e.key}  ${e.messageId ?? '(no message ID)'}  ${e.ruleId ?? '-'}  ${e.reason}`)
    return result
  }
  if (todo.length === 0) return result

  const sender = options.target === 'fc' ? fcSender(env, options.functionName ?? DEFAULT_BRIDGE_FUNCTION) : await localSender(env)
  const run = randomBytes(4).toString('hex')
  const started = Date.now()
  let lastProgress = started
  try {
    for (const [i, entry] of todo.entries()) {
      const requestId = `replay-${run}-${i + 1}`
      try {
        const summary = await sender.send(replayEvent(entry), requestId)
        if (summary.deadLettered > 0 || summary.published + summary.duplicates < 1) {
          result.deadLetteredAgain++
          result.errors.push({
            key: entry.key,
            ...(entry.messageId !== undefined ? { messageId: entry.messageId } : {}),
            error: 'dead-lettered again by the bridge (see the store for the new reason)',
          })
        } else {
          await markReplayed(options.dir, [entry.key], requestId)
          result.replayed++
        }
      } catch (err) {
        result.failed++
        result.errors.push({
          key: entry.key,
          ...(entry.messageId !== undefined ? { messageId: entry.messageId } : {}),
          error: redact(messageOf(err)),
        })
      }
      const now = Date.now()
      if (now - lastProgress >= 1000 || i + 1 === todo.length) {
        lastProgress = now
        const rate = ((i + 1) / Math.max(0.001, (now - started) / 1000)).toFixed(1)
        print(
          `replay: ${i + 1}/${todo.length} (${Math.round(((i + 1) / todo.length) * 100)}%), ${result.replayed} replayed, ${result.deadLetteredAgain} dead-lettered again, ${result.failed} failed, ${rate}/s`,
        )
      }
    }
  } finally {
    await sender.close()
  }
  for (const e of result.errors.slice(0, 20)) print(`  not replayed: ${e.messageId ?? e.key}: ${e.error}`)
  if (result.errors.length > 20) print(`  … and ${result.errors.length - 20} more`)
  return result
}

const USAGE = 'usage: npm run replay -- [--dir D] [--reason R] [--dry-run] [--target local|fc] [--function NAME]'

async function main(argv: string[]): Promise<number> {
  let values: { dir?: string; reason?: string; 'dry-run'?: boolean; target?: string; function?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        reason: { type: 'string' },
        'dry-run': { type: 'boolean' },
        target: { type: 'string' },
        function: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    console.error(`${messageOf(err)}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  const target = values.target ?? 'local'
  if (target !== 'local' && target !== 'fc') {
    console.error(`--target must be local or fc, not ${target}\n${USAGE}`)
    return 2
  }
  const result = await replay({
    dir: values.dir ?? (process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    dryRun: values['dry-run'] ?? false,
    target,
    ...(values.function !== undefined ? { functionName: values.function } : {}),
  })
  console.log(
    JSON.stringify({
      pending: result.pending,
      replayed: result.replayed,
      deadLetteredAgain: result.deadLetteredAgain,
      failed: result.failed,
      skipped: result.skipped,
    }),
  )
  return result.failed + result.deadLetteredAgain > 0 ? 1 : 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(redact(messageOf(err)))
      process.exit(1)
    },
  )
}
