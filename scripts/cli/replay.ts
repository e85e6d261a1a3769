// npm run replay -- [--dir D] [--reason R] [--key K ...] [--dry-run] [--target local|fc] [--function NAME]
//                   [--discard [--note TEXT]]
//
// Sends stored dead letters back through the bridge, oldest first, one message per bridge invocation
// (so each outcome is known), exactly as they were received (shared/dead-letters/replay-event.ts), and
// marks each one replayed only after the bridge delivered it. Entries already replayed or discarded are
// skipped, so a second run sends nothing twice. A message the bridge dead-letters again stays pending.
// Only what once was a bridge event, whole and unchanged, is sent (shared/dead-letters/replayable.ts):
// the rest is listed, to be discarded. While it sends it holds the store's redrive lease, so the timer's
// redrive does not send the same entries at once (shared/dead-letters/lease.ts).
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
import { DEFAULT_DEAD_LETTER_DIR } from '../../shared/config/bridge.js'
import { listDir, NO_DEADLINE } from '../../shared/dead-letters/bounded-fs.js'
import { PARTS_DIR, REDRIVE_LEASE } from '../../shared/dead-letters/layout.js'
import { readLease, releaseLease, renewLease, takeLease } from '../../shared/dead-letters/lease.js'
import type { DeadLetterMarker } from '../../shared/dead-letters/markers.js'
import { replayEvent } from '../../shared/dead-letters/replay-event.js'
import { appendMarkers, markReplayed, type UnreadableLine } from '../../shared/dead-letters/store.js'
import { messageOf } from '../../shared/errors.js'
import { BRIDGE_FUNCTION } from '../../shared/fc/functions.js'
import { redact } from '../../shared/logging/secrets.js'
import { matchingByDay, type Selected } from './replay/selection.js'
import { FC_INVOKE_TIMEOUT_MS, fcSender, localSender, type Sender } from './replay/senders.js'

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
  /** How long to wait for a redrive run that holds the store's lease before giving up; default 15 s. */
  leaseWaitMs?: number
}

export interface ReplayResult {
  /** Entries matching the filter that are still to be replayed (or discarded, with --discard). */
  pending: number
  replayed: number
  /** The bridge dead-lettered them again: still pending. */
  deadLetteredAgain: number
  /** The bridge invocation failed (transient): still pending. */
  failed: number
  /** Already replayed, discarded, or dead-lettered by redrive before this run. */
  skipped: number
  /** Pending, but not bridge events as received (lossy, incomplete, refused parts, unrecognised): listed, never sent. */
  notReplayable: number
  /** Marked discarded by this run (--discard). */
  discarded: number
  /** Lines of the store that could not be read. */
  unreadable: number
  errors: Array<{ key: string; messageId?: string; error: string }>
}

/** The lease replay holds while it sends, moved on before each send so it never runs out mid-way. */
const LEASE_MS = 5 * 60_000
const RENEW_WHEN_LEFT_MS = LEASE_MS - FC_INVOKE_TIMEOUT_MS
const LEASE_POLL_MS = 1000

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
const LISTED = 20

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
    notReplayable: 0,
    discarded: 0,
    unreadable: 0,
    errors: [],
  }
  // Discarding takes every open entry; replay only those it may send.
  const wanted = (s: Selected) => s.kind === 'open' || (options.discard === true && s.kind === 'refused')
  // First pass: how many, so progress can say "of how many".
  const refused: Array<Selected & { kind: 'refused' }> = []
  for await (const day of matchingByDay(options, () => {}))
    for (const s of day) {
      if (wanted(s)) result.pending++
      else if (s.kind === 'done') result.skipped++
      else if (s.kind === 'refused') {
        result.notReplayable++
        if (refused.length < LISTED) refused.push(s)
      }
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
  for (const s of refused) print(`  ${s.why}: ${describe(s)}`)
  if (result.notReplayable > refused.length) print(`  … and ${result.notReplayable - refused.length} more not replayable`)
  const waiting = (await listDir(join(options.dir, PARTS_DIR), NO_DEADLINE)).length
  if (waiting > 0)
    print(`${plural(waiting, 'message')} still arriving in parts under ${PARTS_DIR}/ (stored, incomplete if need be, by the timer)`)

  const run = randomBytes(4).toString('hex')
  if (options.dryRun || options.discard) {
    for await (const day of matchingByDay(options, (u) => void unreadable.push(u))) {
      const open = day.filter(wanted).map((s) => s.entry)
      for (const e of open) print(`  ${options.dryRun ? `would ${what}` : 'discarding'} ${describe({ entry: e })}`)
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

  const sender = options.target === 'fc' ? fcSender(env, options.functionName ?? BRIDGE_FUNCTION) : localSender(env)
  try {
    const holder = `replay-${run}`
    await leaseFor(options, holder, print)
    let leaseUntil = Date.now() + LEASE_MS
    try {
      await send(options, result, unreadable, print, run, sender, async () => {
        if (leaseUntil - Date.now() > RENEW_WHEN_LEFT_MS) return
        leaseUntil = Date.now() + LEASE_MS
        if (!(await renewLease(options.dir, holder, leaseUntil, NO_DEADLINE)))
          throw new Error(`replay lost ${REDRIVE_LEASE} to another run: stopped; run it again to send the rest`)
      })
    } finally {
      await releaseLease(options.dir, holder, NO_DEADLINE).catch(() => {})
    }
  } finally {
    await sender.close()
  }
  for (const e of result.errors.slice(0, LISTED)) print(`  not replayed: ${e.messageId ?? e.key}: ${e.error}`)
  if (result.errors.length > LISTED) print(`  … and ${result.errors.length - LISTED} more`)
  return finish(result, unreadable, print)
}

/** Takes the store's lease, waiting a little for a redrive run that holds it; refuses clearly after that. */
async function leaseFor(options: ReplayOptions, holder: string, print: (line: string) => void): Promise<void> {
  const giveUpAt = Date.now() + (options.leaseWaitMs ?? 15_000)
  let told = false
  for (;;) {
    const taken = await takeLease(options.dir, holder, Date.now() + LEASE_MS, Date.now(), NO_DEADLINE)
    if (taken.held) return
    if (Date.now() + LEASE_POLL_MS > giveUpAt) {
      const lease = (await readLease(options.dir, NO_DEADLINE)) ?? taken
      throw new Error(
        `another run is sending entries of ${options.dir} (${lease.holder} holds ${REDRIVE_LEASE} until ${lease.until}): nothing was sent; run replay again once it is done`,
      )
    }
    if (!told) print(`waiting for ${taken.holder}, which holds ${REDRIVE_LEASE} until ${taken.until} …`)
    told = true
    await new Promise((r) => setTimeout(r, LEASE_POLL_MS))
  }
}

async function send(
  options: ReplayOptions,
  result: ReplayResult,
  unreadable: UnreadableLine[],
  print: (line: string) => void,
  run: string,
  sender: Sender,
  beforeEach: () => Promise<void>,
): Promise<void> {
  const started = Date.now()
  let lastProgress = started
  let done = 0
  for await (const day of matchingByDay(options, (u) => void unreadable.push(u))) {
    for (const { entry } of day.filter((s) => s.kind === 'open')) {
      await beforeEach()
      const requestId = `replay-${run}-${++done}`
      const ids = entry.messageId !== undefined ? { messageId: entry.messageId } : {}
      try {
        const summary = await sender.send(replayEvent(entry), requestId)
        // A message its rule filters out (routes with unmatched: skip) is done too: the bridge chose not to send it.
        if (summary.deadLettered > 0 || summary.published + summary.duplicates + (summary.filtered ?? 0) < 1) {
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
}

/** One entry as the listing shows it: key, message ID, rule, status, and what it holds or why it failed. */
function describe({ entry: e }: { entry: Selected['entry'] }): string {
  const flags = [e.source, e.lossy ? 'lossy' : '', e.incomplete ? 'incomplete' : ''].filter(Boolean).join(', ')
  return `${e.key}  ${e.messageId ?? '(no message ID)'}  ${e.ruleId ?? '-'}  ${e.status}  (${flags})  ${e.reason}`
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
Entries that are not bridge events as received (the bytes were not valid UTF-8, parts that never fit
together, refused parts, unrecognised events) are listed as not replayable: discard them.

  --dir D          the store (default: DEAD_LETTER_DIR, else ./.dead-letters)
  --reason R       only entries whose reason contains R (case-insensitive)
  --key K          only the entry with this key (repeat for several)
  --dry-run        list what would be replayed or discarded; change nothing
  --target local   an in-process bridge built from the environment (default)
  --target fc      a synchronous invoke of the deployed bridge (ALIBABA_CLOUD_* credentials, FC_ENDPOINT)
  --function NAME  the bridge's function name for --target fc (default ${BRIDGE_FUNCTION})
  --discard        mark the matching entries discarded: never replayed or redriven again
  --note TEXT      with --discard: why, kept in the markers
  -h, --help       this text

While it sends, replay holds the store's ${REDRIVE_LEASE}, so the timer's redrive does not send the same
entries at once; if a redrive run holds it, replay waits up to 15 s, then stops without sending.
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
  const dryRun = values['dry-run'] ?? false
  const result = await replay({
    dir: values.dir ?? (process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    ...(values.key !== undefined ? { keys: values.key } : {}),
    dryRun,
    discard: values.discard ?? false,
    ...(values.note !== undefined ? { note: values.note } : {}),
    target,
    ...(values.function !== undefined ? { functionName: values.function } : {}),
  })
  const { pending, replayed, deadLetteredAgain, failed, skipped, discarded, notReplayable } = result
  console.log(
    JSON.stringify(
      values.discard ? { pending, discarded, skipped } : { pending, replayed, deadLetteredAgain, failed, skipped, notReplayable },
    ),
  )
  // Entries it refused were not replayed either: they need a person (discard them).
  const notDone = failed + deadLetteredAgain + (values.discard || dryRun ? 0 : notReplayable)
  return notDone > 0 ? 1 : 0
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
