// npm run validate -- <rules-file> [--event <event.json>] [--json]
// Checks a rule set with the one validator (every error as `path: message`, exit 1 when invalid). With
// --event, also shows what the bridge would publish for that RocketMQ event, or why each message would be
// dead-lettered, without connecting to any broker.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type Preview, previewEvent } from '../../shared/bridge/preview.js'
import { messageOf } from '../../shared/errors.js'
import { validateRulesText } from '../../shared/rules/validate.js'

const USAGE = 'usage: npm run validate -- <rules-file> [--event <event.json>] [--json]'

/** The command line; returns the exit code. */
export function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  let rulesFile: string, eventFile: string | undefined, json: boolean
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { event: { type: 'string' }, json: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    })
    if (positionals.length !== 1)
      throw new Error(positionals.length === 0 ? 'no rules file given' : `one rules file expected, got ${positionals.length}`)
    rulesFile = positionals[0]!
    eventFile = values.event
    json = values.json
  } catch (e) {
    err(`${messageOf(e)}\n${USAGE}`)
    return 2
  }

  let text: string
  try {
    text = readFileSync(rulesFile, 'utf8')
  } catch (e) {
    err(`cannot read ${rulesFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    return 1
  }
  const result = validateRulesText(text)
  if (!result.ok) {
    err(`${rulesFile}: invalid (${result.errors.length} error${result.errors.length === 1 ? '' : 's'})`)
    for (const e of result.errors) err(`${e.path}: ${e.message}`)
    return 1
  }
  const rules = result.ruleSet.rules
  if (eventFile === undefined) {
    if (json) out(JSON.stringify({ valid: true, rules }, null, 2))
    else
      out(
        `${rulesFile}: valid: ${rules.length} rule${rules.length === 1 ? '' : 's'} (${rules.filter((r) => r.enabled).length} enabled), profile ${result.ruleSet.profile}`,
      )
    return 0
  }

  let event: Buffer
  try {
    // As Function Compute hands it to the bridge: bytes holding JSON.
    event = readFileSync(eventFile)
  } catch (e) {
    err(`cannot read ${eventFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    return 1
  }
  const preview = previewEvent(event, result.ruleSet)
  if (json) out(JSON.stringify(preview, null, 2))
  else for (const line of previewLines(preview)) out(line)
  return 0
}

export function previewLines(p: Preview): string[] {
  const lines = [
    `event: ${p.shape}, ${p.received} entr${p.received === 1 ? 'y' : 'ies'}: ${p.publishes.length} publish${p.publishes.length === 1 ? '' : 'es'}, ${p.deadLetters.length} dead letter${p.deadLetters.length === 1 ? '' : 's'}, ${p.duplicates} duplicate${p.duplicates === 1 ? '' : 's'}`,
  ]
  for (const m of p.publishes) {
    lines.push(
      `[${m.index}] publish ${m.topic}  qos ${m.qos}  retain ${m.retain}  ${m.payloadBytes} bytes  rule ${m.ruleId}${m.messageId ? `  message ${m.messageId}` : ''}`,
    )
    if (m.payloadText !== undefined) lines.push(`    payload: ${JSON.stringify(m.payloadText)}`)
    if (m.properties) lines.push(`    MQTT 5 properties: ${JSON.stringify(m.properties)}`)
  }
  for (const d of p.deadLetters) {
    lines.push(
      `[${d.index}] dead letter${d.ruleId ? `  rule ${d.ruleId}` : ''}${d.messageId ? `  message ${d.messageId}` : ''}: ${d.reason}`,
    )
  }
  return lines
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2))
}
