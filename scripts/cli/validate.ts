// npm run validate: the rules through the one validator, and with --event the bridge's preview of an event
// (docs/rules.md).
import { type Preview, previewEvent } from '../../shared/bridge/preview.js'
import { formatDuration } from '../../shared/duration.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { isMain, parseCommand, plural, readBytes, readText } from './command.js'

const USAGE = 'usage: npm run validate -- <rules-file> [--event <event.json>] [--json]'

const HELP = `${USAGE}

Checks a rules file (YAML or JSON) with the validator the bridge, the build and the validate-rules
function use. Every error is printed as path: message, sorted by path.

  <rules-file>          the rules to check, such as rules.yaml
  --event <event.json>  also show what the bridge would do with this RocketMQ trigger event (any of the
                        three shapes): per message the route taken and the MQTT topic, QoS, retain flag and
                        payload, the dead-letter reason, or that it was filtered out (unmatched: skip).
                        Nothing connects to a broker.
  --json                print the normalised rules, or the preview, as JSON
  --help                this text

Exit codes: 0 valid (a preview with dead letters too), 1 invalid rules or an unreadable file, 2 usage.
Reference: docs/rules.md.`

export function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  const args = parseCommand(
    argv,
    { options: { event: { type: 'string' }, json: { type: 'boolean', default: false } }, allowPositionals: true },
    USAGE,
    { out, err },
    ({ values, positionals }) => {
      if (positionals.length !== 1)
        throw new Error(positionals.length === 0 ? 'no rules file given' : `one rules file expected, got ${positionals.length}`)
      return { rulesFile: positionals[0]!, eventFile: values.event, json: values.json }
    },
    HELP,
  )
  if (typeof args === 'number') return args
  const { rulesFile, eventFile, json } = args

  const text = readText(rulesFile, err)
  if (text === undefined) return 1
  const result = validateRulesText(text)
  if (!result.ok) {
    err(`${rulesFile}: invalid (${plural(result.errors.length, 'error')})`)
    for (const e of result.errors) err(`${e.path}: ${e.message}`)
    return 1
  }
  const rules = result.ruleSet.rules
  if (eventFile === undefined) {
    if (json) out(JSON.stringify({ valid: true, rules }, null, 2))
    else
      out(
        `${rulesFile}: valid: ${plural(rules.length, 'rule')} (${rules.filter((r) => r.enabled).length} enabled), profile ${result.ruleSet.profile}`,
      )
    return 0
  }

  // As Function Compute hands it to the bridge: bytes holding JSON.
  const event = readBytes(eventFile, err)
  if (event === undefined) return 1
  const preview = previewEvent(event, result.ruleSet)
  if (json) out(JSON.stringify(preview, null, 2))
  else for (const line of previewLines(preview)) out(line)
  return 0
}

/** The preview as lines, one (or more) per message in batch order. */
export function previewLines(p: Preview): string[] {
  const counts = [
    plural(p.publishes.length, 'publish', 'publishes'),
    plural(p.deadLetters.length, 'dead letter'),
    plural(p.duplicates, 'duplicate'),
    `${p.filtered.length} filtered`,
    `${p.expired.length} expired`,
  ]
  // Sorted by batch position at the end (a stable sort: a message's lines keep their order).
  const lines: Array<[number, string]> = []
  const add = (index: number, line: string) => lines.push([index, line])
  const message = (id: string | undefined) => (id ? `  message ${id}` : '')
  for (const m of p.publishes) {
    add(
      m.index,
      `[${m.index}] publish ${m.topic}  qos ${m.qos}  retain ${m.retain}  ${m.payloadBytes} bytes  rule ${m.ruleId}  route ${m.route}${message(m.messageId)}`,
    )
    if (m.payloadText !== undefined) add(m.index, `    payload: ${JSON.stringify(m.payloadText)}`)
    if (m.properties) add(m.index, `    MQTT 5 properties: ${JSON.stringify(m.properties)}`)
    if (m.deadline)
      add(
        m.index,
        `    deadline ${m.deadline.deadline} from ${m.deadline.from} (${m.deadline.sentAt}): ${formatDuration(m.deadline.timeLeftMs)} left; on MQTT 5 it expires in the broker within ${Math.ceil(m.deadline.timeLeftMs / 1000)} s`,
      )
  }
  for (const d of p.deadLetters)
    add(d.index, `[${d.index}] dead letter${d.ruleId ? `  rule ${d.ruleId}` : ''}${message(d.messageId)}: ${d.reason}`)
  for (const f of p.filtered)
    add(f.index, `[${f.index}] filtered  rule ${f.ruleId}${message(f.messageId)}: no route accepts it (unmatched: skip)`)
  for (const x of p.expired) {
    const kept = x.onExpired === 'drop' ? 'dropped and counted (onExpired: drop)' : 'stored as a dead letter with failure "expired"'
    add(
      x.index,
      `[${x.index}] expired  rule ${x.ruleId}${message(x.messageId)}: ${formatDuration(x.ageMs)} old (from ${x.from}), past its deadline of ${x.deadline}; not published, ${kept}`,
    )
  }
  return [
    `event: ${p.shape}, ${plural(p.received, 'entry', 'entries')}: ${counts.join(', ')}`,
    ...lines.sort((a, b) => a[0] - b[0]).map(([, l]) => l),
  ]
}

if (isMain(import.meta.url)) process.exitCode = main(process.argv.slice(2))
