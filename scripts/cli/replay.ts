// npm run replay -- [--dir D] [--reason R] [--key K ...] [--dry-run] [--target local|fc] [--function NAME]
//                   [--discard [--note TEXT]]
//
// Sends stored dead letters back through the bridge, oldest first, one message per bridge invocation
// (so each outcome is known), exactly as they were received (shared/dead-letters/replay-event.ts), and
// marks each one replayed only after the bridge delivered it. Entries already replayed or discarded are
// skipped, so a second run sends nothing twice. A message the bridge dead-letters again stays pending.
// With --discard it sends nothing: it marks the matching entries discarded (an append-only marker).
// The store is streamed, one day of files at a time; lines it cannot read are reported.
//
//   --target local  an in-process bridge built from the environment (MQTT_URL, RULES_FILE, …)
//   --target fc     a synchronous invoke of the deployed bridge through @alicloud/fc2; needs
//                   ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET (and
//                   ALIBABA_CLOUD_SECURITY_TOKEN for STS), ALIBABA_CLOUD_ACCOUNT_ID, ALIBABA_CLOUD_REGION
//                   (or FC_REGION), and optionally FC_ENDPOINT (default: the region's public endpoint)
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { bundledRules } from '../../functions/bridge/bundled-rules.js'
import { Bridge, type Summary } from '../../shared/bridge/bridge.js'
import { DEFAULT_DEAD_LETTER_DIR } from '../../shared/config/bridge.js'
import { DEFAULT_BRIDGE_FUNCTION } from '../../shared/config/dead-letter.js'
import { listDir } from '../../shared/dead-letters/bounded-fs.js'
import { PARTS_DIR } from '../../shared/dead-letters/layout.js'
import { type DeadLetterMarker, foldEntry } from '../../shared/dead-letters/markers.js'
import type { StoredDeadLetter } from '../../shared/dead-letters/record.js'
import { replayEvent } from '../../shared/dead-letters/replay-event.js'
import { appendMarkers, markReplayed, readMarkerStates, scanEntries, type UnreadableLine } from '../../shared/dead-letters/store.js'
import { messageOf } from '../../shared/errors.js'
import type { FcContext } from '../../shared/fc/context.js'
import { FcInvoker, publicEndpoint } from '../../shared/fc/invoke.js'
import { redact } from '../../shared/logging/secrets.js'

export { DEFAULT_BRIDGE_FUNCTION }

export interface ReplayOptions {
  dir: string
  reason?: string
  /** Only these entry keys. */
  keys?: string[]
  dryRun?: boolean
  /** Mark the matching entries discarded instead of sending them. */
  discard?: boolean
  /** Why they were discarded, kept in the markers. */
  note?: string
  target: 'local' | 'fc'
  functionName?: string
  env?: NodeJS.ProcessEnv
  /** Progress and result lines; default stderr. */
  print?: (line: string) => void
}

export interface ReplayResult {
  /** Entries matching the filter that were neither replayed nor discarded yet. */
  pending: number
  replayed: number
  /** The bridge dead-lettered them again: still pending. */
  deadLetteredAgain: number
  /** The bridge invocation failed (transient): still pending. */
  failed: number
  /** Already replayed or discarded before this run. */
  skipped: number
  /** Marked discarded by this run (--discard). */
  discarded: number
  /** Lines of the store that could not be read. */
  unreadable: number
  errors: Array<{ key: string; messageId?: string; error: string }>
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

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** Streams the matching entries, one UTC day of files at a time, oldest first within the day. */
async function* matchingByDay(options: ReplayOptions, onUnreadable: (u: UnreadableLine) => void): AsyncGenerator<StoredDeadLetter[]> {
  const states = await readMarkerStates(options.dir, { onUnreadable })
  const needle = options.reason?.toLowerCase()
  const keys = options.keys && options.keys.length > 0 ? new Set(options.keys) : undefined
  let day: string | undefined
  let batch: StoredDeadLetter[] = []
  const oldestFirst = (list: StoredDeadLetter[]) =>
    list.sort((a, b) => (a.storedAt ?? a.firstFailureAt).localeCompare(b.storedAt ?? b.firstFailureAt))
  for await (const { entry, file } of scanEntries(options.dir, { onUnreadable })) {
    if (needle !== undefined && !entry.reason.toLowerCase().includes(needle)) continue
    if (keys && !keys.has(entry.key)) continue
    if (day !== undefined && file.day !== day && batch.length > 0) {
      yield oldestFirst(batch)
      batch = []
    }
    day = file.day
    batch.push(foldEntry(entry, states.get(entry.key)))
  }
  if (batch.length > 0) yield oldestFirst(batch)
}

/** Replayed and discarded entries are done; pending and expired (redrive gave up) ones can be replayed. */
const isOpen = (e: StoredDeadLetter) => e.status !== 'replayed' && e.status !== 'discarded'

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const print = options.print ?? ((line: string) => process.stderr.write(line + '\n'))
  const env = options.env ?? process.env
  const unreadable: UnreadableLine[] = []
  const result: ReplayResult = {
    pending: 0,
    replayed: 0,
    deadLetteredAgain: 0,
    failed: 0,
    skipped: 0,
    discarded: 0,
    unreadable: 0,
    errors: [],
  }
  // First pass: how many, so progress can say "of how many".
  for await (const day of matchingByDay(options, () => {}))
    for (const e of day) {
      if (isOpen(e)) result.pending++
      else result.skipped++
    }
  const what = options.discard ? 'discard' : 'replay'
  const filters = [
    options.reason ? `reason contains "${options.reason}"` : '',
    options.keys?.length ? plural(options.keys.length, 'key') : '',
  ]
    .filter(Boolean)
    .join(', ')
  print(
    `${plural(result.pending, 'dead letter')} to ${what} from ${options.dir}${filters ? ` (${filters})` : ''}; ${result.skipped} already replayed or discarded`,
  )
  const waiting = (await listDir(join(options.dir, PARTS_DIR), Number.POSITIVE_INFINITY)).length
  if (waiting > 0)
    print(`${plural(waiting, 'message')} still arriving in parts under ${PARTS_DIR}/ (stored, incomplete if need be, by the timer)`)

  const run = randomBytes(4).toString('hex')
  if (options.dryRun || options.discard) {
    for await (const day of matchingByDay(options, (u) => void unreadable.push(u))) {
      const open = day.filter(isOpen)
      for (const e of open)
        print(
          `  ${options.dryRun ? `would ${what}` : 'discarding'} ${e.key}  ${e.messageId ?? '(no message ID)'}  ${e.ruleId ?? '-'}  ${e.status}  ${e.reason}`,
        )
      if (options.discard && !options.dryRun && open.length > 0) {
        const at = new Date().toISOString()
        const note = options.note ? { note: options.note } : {}
        const markers: DeadLetterMarker[] = open.map((e) => ({ marker: 'discarded', key: e.key, at, requestId: `discard-${run}`, ...note }))
        await appendMarkers(options.dir, markers)
        result.discarded += open.length
      }
    }
    return finish(result, unreadable, print)
  }
  if (result.pending === 0) return finish(result, unreadable, print)

  const sender = options.target === 'fc' ? fcSender(env, options.functionName ?? DEFAULT_BRIDGE_FUNCTION) : await localSender(env)
  const started = Date.now()
  let lastProgress = started
  let done = 0
  try {
    for await (const day of matchingByDay(options, (u) => void unreadable.push(u))) {
      for (const entry of day.filter(isOpen)) {
        const requestId = `replay-${run}-${++done}`
        const ids = entry.messageId !== undefined ? { messageId: entry.messageId } : {}
        try {
          const summary = await sender.send(replayEvent(entry), requestId)
          // A message its rule filters out (routes with unmatched: skip) is done too: the bridge chose not to send it.
          const filtered = (summary as { filtered?: number }).filtered ?? 0
          if (summary.deadLettered > 0 || summary.published + summary.duplicates + filtered < 1) {
            result.deadLetteredAgain++
            result.errors.push({ key: entry.key, ...ids, error: 'dead-lettered again by the bridge (see the store for the new reason)' })
          } else {
            await markReplayed(options.dir, [entry.key], requestId)
            result.replayed++
          }
        } catch (err) {
          result.failed++
          result.errors.push({ key: entry.key, ...ids, error: redact(messageOf(err)) })
        }
        const now = Date.now()
        if (now - lastProgress >= 1000 || done === result.pending) {
          lastProgress = now
          const rate = (done / Math.max(0.001, (now - started) / 1000)).toFixed(1)
          print(
            `replay: ${done}/${result.pending} (${Math.round((done / result.pending) * 100)}%), ${result.replayed} replayed, ${result.deadLetteredAgain} dead-lettered again, ${result.failed} failed, ${rate}/s`,
          )
        }
      }
    }
  } finally {
    await sender.close()
  }
  for (const e of result.errors.slice(0, 20)) print(`  not replayed: ${e.messageId ?? e.key}: ${e.error}`)
  if (result.errors.length > 20) print(`  … and ${result.errors.length - 20} more`)
  return finish(result, unreadable, print)
}

function finish(result: ReplayResult, unreadable: UnreadableLine[], print: (line: string) => void): ReplayResult {
  result.unreadable = unreadable.length
  for (const u of unreadable.slice(0, 10)) print(`  unreadable: ${u.file} line ${u.line}: ${u.problem}`)
  if (unreadable.length > 10) print(`  … and ${unreadable.length - 10} more unreadable lines`)
  return result
}

const USAGE = `usage: npm run replay -- [--dir D] [--reason R] [--key K ...] [--dry-run] [--target local|fc] [--function NAME]
                        [--discard [--note TEXT]]

Sends stored dead letters back through the bridge, exactly as they were received, and marks each one
replayed once the bridge delivered it; with --discard, marks them discarded instead (sends nothing).

  --dir D          the store (default: DEAD_LETTER_DIR, else ./.dead-letters)
  --reason R       only entries whose reason contains R (case-insensitive)
  --key K          only the entry with this key (repeat for several)
  --dry-run        list what would be replayed or discarded; change nothing
  --target local   an in-process bridge built from the environment (default)
  --target fc      a synchronous invoke of the deployed bridge (ALIBABA_CLOUD_* credentials, FC_ENDPOINT)
  --function NAME  the bridge's function name for --target fc (default ${DEFAULT_BRIDGE_FUNCTION})
  --discard        mark the matching entries discarded: never replayed or redriven again
  --note TEXT      with --discard: why, kept in the markers

The last line on stdout is a JSON summary; the exit code is 1 if any entry was not replayed.`

async function main(argv: string[]): Promise<number> {
  let values: {
    dir?: string
    reason?: string
    key?: string[]
    'dry-run'?: boolean
    target?: string
    function?: string
    discard?: boolean
    note?: string
    help?: boolean
  }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        reason: { type: 'string' },
        key: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        target: { type: 'string' },
        function: { type: 'string' },
        discard: { type: 'boolean' },
        note: { type: 'string' },
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
  if (values.note !== undefined && !values.discard) {
    console.error(`--note goes with --discard\n${USAGE}`)
    return 2
  }
  const result = await replay({
    dir: values.dir ?? (process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    ...(values.key !== undefined ? { keys: values.key } : {}),
    dryRun: values['dry-run'] ?? false,
    discard: values.discard ?? false,
    ...(values.note !== undefined ? { note: values.note } : {}),
    target,
    ...(values.function !== undefined ? { functionName: values.function } : {}),
  })
  const { pending, replayed, deadLetteredAgain, failed, skipped, discarded } = result
  console.log(JSON.stringify(values.discard ? { pending, discarded, skipped } : { pending, replayed, deadLetteredAgain, failed, skipped }))
  return failed + deadLetteredAgain > 0 ? 1 : 0
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
