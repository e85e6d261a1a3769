// npm run replay: stored dead letters sent back through the bridge, oldest first, one per invocation so each
// outcome is known, each under its turn (store/turns.ts) so an entry another run holds is never acted on twice.
// Marked replayed only once delivered; a second run sends nothing twice (docs/operations.md).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { DEFAULT_DEAD_LETTER_DIR } from '../../shared/config/bridge.js'
import { replayEvent, type StoredDeadLetter } from '../../shared/dead-letters/store/entry.js'
import type { StoreClock } from '../../shared/dead-letters/store/fs.js'
import { DeadLetterStore, type UnreadableLine } from '../../shared/dead-letters/store/store.js'
import { messageOf } from '../../shared/errors.js'
import { BRIDGE_FUNCTION } from '../../shared/fc/functions.js'
import { redact } from '../../shared/logging/secrets.js'
import { parseCommand, plural, runAsMain } from './command.js'
import { matchingByDay, type Selected } from './replay/selection.js'
import { FC_INVOKE_TIMEOUT_MS, fcSender, localSender, type Sender } from './replay/senders.js'

/** The command's flags (USAGE), and for tests a clock and a hook run once an entry's turn is held. */
export interface ReplayOptions {
  dir: string
  reason?: string
  keys?: string[]
  dryRun?: boolean
  discard?: boolean
  note?: string
  target: 'local' | 'fc'
  functionName?: string
  ignoreDeadline?: boolean
  env?: NodeJS.ProcessEnv
  /** Progress and result lines; default stderr. */
  print?: (line: string) => void
  clock?: StoreClock
  onHeld?: (entry: StoredDeadLetter) => Promise<void>
}

/** Entries counted (docs/operations.md, "Replaying"); failed and dead-lettered again stay pending. */
export interface ReplayResult {
  pending: number
  replayed: number
  deadLetteredAgain: number
  expired: number
  failed: number
  skipped: number
  notReplayable: number
  discarded: number
  missingKeys: string[]
  unreadable: number
  errors: Array<{ key: string; messageId?: string; error: string }>
}

/** How long this run holds an entry's turn: one send at most (or a discard), and then some. */
const TURN_MS = FC_INVOKE_TIMEOUT_MS + 30_000
const LISTED = 20

export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const print = options.print ?? ((line: string) => process.stderr.write(line + '\n'))
  const store = new DeadLetterStore(options.dir, options.clock ? { clock: options.clock } : {})
  const unreadable: UnreadableLine[] = []
  const result: ReplayResult = {
    ...{ pending: 0, replayed: 0, deadLetteredAgain: 0, expired: 0, failed: 0, skipped: 0, notReplayable: 0, discarded: 0 },
    ...{ missingKeys: [], unreadable: 0, errors: [] },
  }
  const what = options.discard ? 'discard' : 'replay'
  // Discarding takes every open entry; replay only those it may send.
  const wanted = (s: Selected) => s.kind === 'open' || (options.discard === true && s.kind === 'refused')
  // First pass: how many, so progress can say "of how many", and which keys are not there at all.
  const refused: Array<Selected & { kind: 'refused' }> = []
  const found = new Set<string>()
  for await (const day of matchingByDay(store, options, () => {}, options.ignoreDeadline === true))
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
  const filters = [options.reason && `reason contains "${options.reason}"`, options.keys?.length && plural(options.keys.length, 'key')]
  const only = filters.filter(Boolean).join(', ')
  print(
    `${plural(result.pending, 'dead letter')} to ${what} from ${options.dir}${only && ` (${only})`}; ${result.skipped} already replayed or discarded`,
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
        : localSender(options.env ?? process.env, options.dir, options.ignoreDeadline === true)
  const started = store.now()
  let done = 0
  let lastProgress = started
  try {
    for await (const day of matchingByDay(store, options, (u) => void unreadable.push(u), options.ignoreDeadline === true)) {
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
        for (const b of taken.busy) {
          result.failed++
          notDone(result, entry, `${b.holder} holds it until ${b.until}: not ${what}ed; run again once it is done`)
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

const notDone = (result: ReplayResult, e: StoredDeadLetter, error: string) =>
  result.errors.push({ key: e.key, ...(e.messageId !== undefined ? { messageId: e.messageId } : {}), error })

/** Sends one held entry and ends its turn with what became of it. */
async function sendOne(
  store: DeadLetterStore,
  e: StoredDeadLetter & { turn: number },
  requestId: string,
  sender: Sender,
  result: ReplayResult,
): Promise<void> {
  try {
    const { answer, reasons } = await sender.send(replayEvent(e), requestId)
    if ((answer.expired ?? 0) > 0) {
      result.expired++
      notDone(result, e, 'past its delivery deadline: not published; --ignore-deadline sends it anyway')
      const reason = `past its delivery deadline when replayed (request ${requestId})`
      await store.mark([{ marker: 'expired', key: e.key, requestId, turn: e.turn, reason }])
      return await store.endTurn(e.key, e.turn, 'expired')
    }
    // A message its rule filters out (routes with unmatched: skip) is done too: the bridge chose not to send it.
    if (answer.deadLettered > 0 || answer.published + (answer.duplicates ?? 0) + (answer.filtered ?? 0) < 1) {
      result.deadLetteredAgain++
      const why = reasons?.length ? `: ${reasons.join('; ')}` : ''
      notDone(result, e, `dead-lettered again by the bridge${why}; the entry keeps its reasons in its history`)
      return await store.endTurn(e.key, e.turn, 'pending')
    }
    await store.mark([{ marker: 'replayed', key: e.key, requestId, turn: e.turn }])
    await store.endTurn(e.key, e.turn, 'replayed')
    result.replayed++
  } catch (err) {
    result.failed++
    notDone(result, e, redact(messageOf(err)))
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
                        [--discard [--note TEXT]] [--ignore-deadline]

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
  --ignore-deadline  send entries past their delivery deadline too (--target local only: the deployed
                   bridge checks every message's deadline)
  -h, --help       this text

Each entry is sent or discarded under its turn: one the timer's redrive holds at that moment is left
alone and reported (run replay again once it is done), and one another run finished meanwhile is skipped.
The last line on stdout is a JSON summary; the exit code is 1 if any entry was not replayed (or
discarded), or a --key is not in the store.`

async function main(argv: string[]): Promise<number> {
  const options = {
    dir: { type: 'string' },
    reason: { type: 'string' },
    key: { type: 'string', multiple: true },
    'dry-run': { type: 'boolean', default: false },
    target: { type: 'string', default: 'local' },
    function: { type: 'string' },
    discard: { type: 'boolean', default: false },
    note: { type: 'string' },
    'ignore-deadline': { type: 'boolean', default: false },
  } as const
  const values = parseCommand(argv, { options }, USAGE, { out: console.log, err: console.error }, ({ values: v }) => {
    if (v.target !== 'local' && v.target !== 'fc') throw new Error(`--target must be local or fc, not ${v.target}`)
    if (v.note !== undefined && !v.discard) throw new Error('--note goes with --discard')
    if (v['ignore-deadline'] && v.target === 'fc')
      throw new Error("--ignore-deadline works with --target local only: the deployed bridge checks every message's delivery deadline")
    return { ...v, target: v.target as 'local' | 'fc' }
  })
  if (typeof values === 'number') return values
  const { discard, 'dry-run': dryRun, 'ignore-deadline': ignoreDeadline, function: functionName, key: keys, reason, note, target } = values
  const dir = values.dir ?? (process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR)
  const result = await replay({ dir, reason, keys, dryRun, discard, note, target, ignoreDeadline, functionName })
  const { pending, replayed, deadLetteredAgain, expired, failed, skipped, discarded, notReplayable, missingKeys } = result
  const missing = missingKeys.length > 0 ? { missingKeys } : {}
  console.log(
    JSON.stringify(
      discard
        ? { pending, discarded, skipped, ...(failed > 0 ? { failed } : {}), ...missing }
        : { pending, replayed, deadLetteredAgain, ...(expired > 0 ? { expired } : {}), failed, skipped, notReplayable, ...missing },
    ),
  )
  // Entries it refused were not replayed either: they need a person (discard them).
  const notDone = failed + deadLetteredAgain + expired + missingKeys.length + (discard || dryRun ? 0 : notReplayable)
  return notDone > 0 ? 1 : 0
}

runAsMain(import.meta.url, main, { exit: true })
