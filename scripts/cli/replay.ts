// npm run replay -- [--dir D] [--reason R] [--key K ...] [--dry-run] [--target local|fc] [--function NAME]
//                   [--discard [--note TEXT]]
//
// Sends stored dead letters back through the bridge, oldest first, one message per bridge invocation
// (so each outcome is known), exactly as they were received (shared/dead-letters/store/entry.ts), and
// marks each one replayed only after the bridge delivered it. Entries already replayed or discarded are
// skipped, so a second run sends nothing twice. A message the bridge dead-letters again stays pending, its
// new reason added to the same entry. Only what once was a bridge event, whole and unchanged, is sent: the
// rest is listed, to be discarded. Each entry is sent or discarded under its turn (store/turns.ts): an
// entry the timer's redrive (or another replay) holds is left alone and reported, never acted on twice.
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
import { replayEvent, type StoredDeadLetter } from '../../shared/dead-letters/store/entry.js'
import type { StoreClock } from '../../shared/dead-letters/store/fs.js'
import { DeadLetterStore, type UnreadableLine } from '../../shared/dead-letters/store/store.js'
import { messageOf } from '../../shared/errors.js'
import { BRIDGE_FUNCTION } from '../../shared/fc/functions.js'
import { redact } from '../../shared/logging/secrets.js'
import { matchingByDay, type Selected } from './replay/selection.js'
import { FC_INVOKE_TIMEOUT_MS, fcSender, localSender, type Sender } from './replay/senders.js'

export interface ReplayOptions {
  dir: string
  reason?: string
  /** Only these entry keys; a key that is not in the store is an error. */
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
  clock?: StoreClock
  /** For tests: runs once this run holds an entry's turn, before it sends or discards it. */
  onHeld?: (entry: StoredDeadLetter) => Promise<void>
}

export interface ReplayResult {
  /** Entries matching the filter that are still to be replayed (or discarded, with --discard). */
  pending: number
  replayed: number
  /** The bridge dead-lettered them again: still pending, the new reason in their history. */
  deadLetteredAgain: number
  /** The bridge invocation failed (transient), or another run held the entry: still pending. */
  failed: number
  /** Already replayed or discarded, before this run or by another run while it ran. */
  skipped: number
  /** Pending, but not bridge events as received (lossy, incomplete, refused parts, unrecognised): listed, never sent. */
  notReplayable: number
  /** Marked discarded by this run (--discard). */
  discarded: number
  /** --key values no entry has. */
  missingKeys: string[]
  /** Lines of the store that could not be read. */
  unreadable: number
  errors: Array<{ key: string; messageId?: string; error: string }>
}

/** How long this run holds an entry's turn: one send at most (or a discard), and then some. */
const TURN_MS = FC_INVOKE_TIMEOUT_MS + 30_000
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
const LISTED = 20

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const print = options.print ?? ((line: string) => process.stderr.write(line + '\n'))
  const store = new DeadLetterStore(options.dir, options.clock ? { clock: options.clock } : {})
  const unreadable: UnreadableLine[] = []
  const result: ReplayResult = {
    ...{ pending: 0, replayed: 0, deadLetteredAgain: 0, failed: 0, skipped: 0, notReplayable: 0, discarded: 0 },
    ...{ missingKeys: [], unreadable: 0, errors: [] },
  }
  const what = options.discard ? 'discard' : 'replay'
  // Discarding takes every open entry; replay only those it may send.
  const wanted = (s: Selected) => s.kind === 'open' || (options.discard === true && s.kind === 'refused')
  // First pass: how many, so progress can say "of how many", and which keys are not there at all.
  const refused: Array<Selected & { kind: 'refused' }> = []
  const found = new Set<string>()
  for await (const day of matchingByDay(store, options, () => {}))
    for (const s of day) {
      found.add(s.entry.key)
      if (wanted(s)) result.pending++
      else if (s.kind === 'done') result.skipped++
      else if (s.kind === 'refused') {
        result.notReplayable++
        if (refused.length < LISTED) refused.push(s)
      }
    }
  result.missingKeys = (options.keys ?? []).filter((k) => !found.has(k))
  for (const k of result.missingKeys) print(`no entry with key ${k} in ${options.dir}: nothing to ${what} for it`)
  const filters = [
    options.reason ? `reason contains "${options.reason}"` : '',
    options.keys?.length ? plural(options.keys.length, 'key') : '',
  ]
  print(
    `${plural(result.pending, 'dead letter')} to ${what} from ${options.dir}${filters.some(Boolean) ? ` (${filters.filter(Boolean).join(', ')})` : ''}; ${result.skipped} already replayed or discarded`,
  )
  for (const s of refused) print(`  ${s.why}: ${describe(s.entry)}`)
  if (result.notReplayable > refused.length) print(`  … and ${result.notReplayable - refused.length} more not replayable`)
  const waiting = (await store.fs.list(join(options.dir, 'parts'))).length
  if (waiting > 0) print(`${plural(waiting, 'message')} still arriving in parts under parts/ (stored, incomplete if need be, by the timer)`)
  if (result.pending === 0 && !options.dryRun) return finish(result, unreadable, print)

  const run = `${what}-${randomBytes(4).toString('hex')}`
  const sender =
    options.dryRun || options.discard
      ? undefined
      : options.target === 'fc'
        ? fcSender(options.env ?? process.env, options.functionName ?? BRIDGE_FUNCTION)
        : localSender(options.env ?? process.env, options.dir)
  const started = store.now()
  let done = 0
  let lastProgress = started
  try {
    for await (const day of matchingByDay(store, options, (u) => void unreadable.push(u))) {
      const open = day.filter(wanted).map((s) => s.entry)
      if (options.dryRun) {
        for (const e of open) print(`  would ${what} ${describe(e)}`)
        continue
      }
      // Each entry under its turn, its calls bounded by the turn's end.
      for (const entry of open) {
        const until = store.now() + TURN_MS
        const own = store.until(until)
        const taken = await own.take([entry], run, until)
        const ids = entry.messageId !== undefined ? { messageId: entry.messageId } : {}
        for (const b of taken.busy) {
          result.failed++
          result.errors.push({
            key: entry.key,
            ...ids,
            error: `${b.holder} holds it until ${b.until}: not ${what}ed; run again once it is done`,
          })
        }
        for (const s of taken.settled) {
          result.skipped++
          print(`  already ${s.status} by another run meanwhile: ${entry.key}`)
        }
        for (const e of taken.held) {
          await options.onHeld?.(e)
          if (options.discard) {
            await own.mark([
              { marker: 'discarded', key: e.key, requestId: run, turn: e.turn, ...(options.note ? { note: options.note } : {}) },
            ])
            await own.endTurn(e.key, e.turn, 'discarded')
            print(`  discarded ${describe(e)}`)
            result.discarded++
          } else await sendOne(own, e, `${run}-${++done}`, sender!, result)
        }
        if (sender && (store.now() - lastProgress >= 1000 || done === result.pending)) {
          lastProgress = store.now()
          const rate = (done / Math.max(0.001, (lastProgress - started) / 1000)).toFixed(1)
          print(
            `replay: ${done}/${result.pending} (${Math.round((done / result.pending) * 100)}%), ${result.replayed} replayed, ${result.deadLetteredAgain} dead-lettered again, ${result.failed} failed, ${rate}/s`,
          )
        }
      }
    }
  } finally {
    await sender?.close()
  }
  for (const e of result.errors.slice(0, LISTED)) print(`  not ${what}ed: ${e.messageId ?? e.key}: ${e.error}`)
  if (result.errors.length > LISTED) print(`  … and ${result.errors.length - LISTED} more`)
  return finish(result, unreadable, print)
}

/** Sends one held entry and ends its turn with what became of it. */
async function sendOne(
  store: DeadLetterStore,
  e: StoredDeadLetter & { turn: number },
  requestId: string,
  sender: Sender,
  result: ReplayResult,
): Promise<void> {
  const ids = e.messageId !== undefined ? { messageId: e.messageId } : {}
  try {
    const { answer, reasons } = await sender.send(replayEvent(e), requestId)
    // A message its rule filters out (routes with unmatched: skip) is done too: the bridge chose not to send it.
    if (answer.deadLettered > 0 || answer.published + (answer.duplicates ?? 0) + (answer.filtered ?? 0) < 1) {
      result.deadLetteredAgain++
      const why = reasons?.length ? `: ${reasons.join('; ')}` : ''
      result.errors.push({
        key: e.key,
        ...ids,
        error: `dead-lettered again by the bridge${why}; the entry keeps its reasons in its history`,
      })
      return await store.endTurn(e.key, e.turn, 'pending')
    }
    await store.mark([{ marker: 'replayed', key: e.key, requestId, turn: e.turn }])
    await store.endTurn(e.key, e.turn, 'replayed')
    result.replayed++
  } catch (err) {
    result.failed++
    result.errors.push({ key: e.key, ...ids, error: redact(messageOf(err)) })
    await store.endTurn(e.key, e.turn, 'pending').catch(() => {})
  }
}

/** One entry as the listing shows it: key, message ID, rule, status, and what it holds or why it failed. */
function describe(e: StoredDeadLetter): string {
  const flags = [e.source, e.failure, e.lossy ? 'lossy' : '', e.incomplete ? 'incomplete' : ''].filter(Boolean).join(', ')
  const more = e.history.length > 1 ? ` (${e.history.length} reports)` : ''
  return `${e.key}  ${e.messageId ?? '(no message ID)'}  ${e.ruleId ?? '-'}  ${e.status}  (${flags})  ${e.reason}${more}`
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
  --key K          only the entry with this key (repeat for several); a key not in the store is an error
  --dry-run        list what would be replayed or discarded; change nothing
  --target local   an in-process bridge built from the environment (default); what it dead-letters
                   again goes back into the same entry
  --target fc      a synchronous invoke of the deployed bridge (ALIBABA_CLOUD_* credentials, FC_ENDPOINT)
  --function NAME  the bridge's function name for --target fc (default ${BRIDGE_FUNCTION})
  --discard        mark the matching entries discarded: never replayed or redriven again
  --note TEXT      with --discard: why, kept in the markers
  -h, --help       this text

Each entry is sent or discarded under its turn: one the timer's redrive holds at that moment is left
alone and reported (run replay again once it is done), and one another run finished meanwhile is skipped.
The last line on stdout is a JSON summary; the exit code is 1 if any entry was not replayed (or
discarded), or a --key is not in the store.`

async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
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
  if (values['help']) {
    console.log(USAGE)
    return 0
  }
  const target = (values['target'] as string | undefined) ?? 'local'
  if (target !== 'local' && target !== 'fc') {
    console.error(`--target must be local or fc, not ${target}\n${USAGE}`)
    return 2
  }
  const discard = values['discard'] === true
  if (values['note'] !== undefined && !discard) {
    console.error(`--note goes with --discard\n${USAGE}`)
    return 2
  }
  const dryRun = values['dry-run'] === true
  const str = (k: string) => values[k] as string | undefined
  const result = await replay({
    dir: str('dir') ?? (process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR),
    ...(str('reason') !== undefined ? { reason: str('reason')! } : {}),
    ...(values['key'] !== undefined ? { keys: values['key'] as string[] } : {}),
    dryRun,
    discard,
    ...(str('note') !== undefined ? { note: str('note')! } : {}),
    target,
    ...(str('function') !== undefined ? { functionName: str('function')! } : {}),
  })
  const { pending, replayed, deadLetteredAgain, failed, skipped, discarded, notReplayable, missingKeys } = result
  const missing = missingKeys.length > 0 ? { missingKeys } : {}
  console.log(
    JSON.stringify(
      discard
        ? { pending, discarded, skipped, ...(failed > 0 ? { failed } : {}), ...missing }
        : { pending, replayed, deadLetteredAgain, failed, skipped, notReplayable, ...missing },
    ),
  )
  // Entries it refused were not replayed either: they need a person (discard them).
  const notDone = failed + deadLetteredAgain + missingKeys.length + (discard || dryRun ? 0 : notReplayable)
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
