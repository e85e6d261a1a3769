// npm run triggers: the bridge's RocketMQ triggers written into s.yaml from the rules (shared/fc/triggers.ts).
// Only the triggers named rocketmq-<rule id> change; every other line of s.yaml, comments included, stays.
import { writeFileSync } from 'node:fs'
import YAML, { type Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml'
import { SYamlError } from '../../shared/errors.js'
import { BRIDGE_FUNCTION } from '../../shared/fc/functions.js'
import { isManagedTriggerName, TRIGGER_NAME_PREFIX, triggersForRules } from '../../shared/fc/triggers.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRulesText } from '../../shared/rules/validate.js'
import { isObject } from '../../shared/schema-helpers.js'
import { isMain, parseCommand, readText } from './command.js'

export function syncTriggers(sYamlText: string, ruleSet: RuleSet): { text: string; changed: boolean; differences: string[] } {
  const doc = YAML.parseDocument(sYamlText, { uniqueKeys: true })
  if (doc.errors.length > 0) throw new SYamlError(`s.yaml is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`)
  const props = bridgeProps(doc)
  const node = props.get('triggers', true)
  if (node !== undefined && !isSeq(node)) throw new SYamlError(`s.yaml: the bridge's props.triggers must be a list`)
  const items = node ? node.items : []
  const current = items.map((item) => (YAML.isNode(item) ? item.toJS(doc) : item) as Record<string, unknown>)
  const managed = current.filter((t) => isManagedTriggerName(t?.['triggerName']))
  const expected = triggersForRules(ruleSet)

  const differences = compare(managed, expected as unknown as Array<Record<string, unknown>>)
  if (differences.length === 0) return { text: sYamlText, changed: false, differences }

  // Other triggers keep their nodes (and comments); the generated ones follow, in rule order.
  const kept = items.filter((_, i) => !isManagedTriggerName(current[i]?.['triggerName']))
  const seq = doc.createNode([]) as YAMLSeq
  seq.items = [...kept, ...expected.map((t) => doc.createNode(t))]
  if (node) Object.assign(seq, { commentBefore: node.commentBefore, comment: node.comment })
  props.set('triggers', seq)
  const rendered = doc.toString({ lineWidth: 0 })
  return { text: (node && spliceTriggers(sYamlText, node, rendered)) ?? rendered, changed: true, differences }
}

// Re-serialising the whole document would reformat lines nobody asked to change: only the list's text is
// replaced, and the result checked to mean what the rendered document means.
function spliceTriggers(original: string, oldNode: YAMLSeq, rendered: string): string | undefined {
  const newNode = bridgeProps(YAML.parseDocument(rendered)).get('triggers', true)
  if (!isSeq(newNode) || !oldNode.range || !newNode.range) return undefined
  const [oldStart, oldEnd] = oldNode.range
  const block = rendered.slice(lineStart(rendered, newNode.range[0]), newNode.range[1])
  let text: string
  if (oldNode.flow) {
    const before = original.slice(0, oldStart)
    text = newNode.flow
      ? before + block.trimStart() + original.slice(oldEnd)
      : `${before.replace(/[ \t]+$/, '')}\n${block}${original.slice(oldEnd)}`
  } else {
    const from = lineStart(original, oldStart)
    if (original.slice(from, oldStart).trim() !== '' || newNode.flow) return undefined
    text = original.slice(0, from) + block + original.slice(oldEnd)
  }
  const check = YAML.parseDocument(text, { uniqueKeys: true })
  const same = check.errors.length === 0 && JSON.stringify(check.toJS()) === JSON.stringify(YAML.parse(rendered))
  return same ? text : undefined
}

const lineStart = (text: string, offset: number) => text.lastIndexOf('\n', offset - 1) + 1

function bridgeProps(doc: Document): YAMLMap {
  const resources = doc.get('resources', true)
  if (!isMap(resources)) throw new SYamlError('s.yaml has no resources mapping')
  for (const pair of resources.items) {
    const props = isMap(pair.value) ? pair.value.get('props', true) : undefined
    if (isMap(props) && props.get('functionName') === BRIDGE_FUNCTION) return props
  }
  throw new SYamlError(`s.yaml has no resource with props.functionName: ${BRIDGE_FUNCTION}`)
}

function compare(actual: Array<Record<string, unknown>>, expected: Array<Record<string, unknown>>): string[] {
  const out: string[] = []
  const byName = new Map(actual.map((t) => [String(t['triggerName']), t]))
  const wanted = new Set(expected.map((t) => String(t['triggerName'])))
  for (const e of expected) {
    const name = String(e['triggerName'])
    const a = byName.get(name)
    if (!a) out.push(`${name}: missing from s.yaml (an enabled rule needs it)`)
    else diffValues(a, e, name, out)
  }
  for (const a of actual) {
    const name = String(a['triggerName'])
    if (!wanted.has(name))
      out.push(`${name}: in s.yaml, but no enabled rule has id ${JSON.stringify(name.slice(TRIGGER_NAME_PREFIX.length))}`)
  }
  const order = (ts: Array<Record<string, unknown>>) =>
    ts.map((t) => String(t['triggerName'])).filter((n) => wanted.has(n) && byName.has(n))
  if (out.length === 0 && JSON.stringify(order(actual)) !== JSON.stringify(order(expected))) out.push('triggers: not in rule order')
  if (actual.length !== byName.size) out.push('triggers: a trigger name appears more than once')
  return out
}

function diffValues(actual: unknown, expected: unknown, path: string, out: string[]): void {
  if (isObject(actual) && isObject(expected)) {
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)]))
      diffValues(actual[key], expected[key], `${path}.${key}`, out)
    return
  }
  if (JSON.stringify(actual) !== JSON.stringify(expected)) out.push(`${path}: s.yaml has ${show(actual)}, the rules give ${show(expected)}`)
}

const show = (v: unknown) => (v === undefined ? '(nothing)' : JSON.stringify(v))

export const USAGE = `usage: npm run triggers -- [--check] [--rules <rules-file>] [--s-yaml <s.yaml>]

Writes the bridge's EventBridge RocketMQ triggers into s.yaml, one per enabled rule; every other line of
s.yaml stays as written.

  --check          change nothing; exit 1, listing the differences, when s.yaml and the rules disagree
  --rules FILE     the rules (default rules.yaml)
  --s-yaml FILE    the Serverless Devs file (default s.yaml)
  -h, --help       this text`

export function main(argv: string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): number {
  const options = {
    check: { type: 'boolean', default: false },
    rules: { type: 'string', default: 'rules.yaml' },
    's-yaml': { type: 'string', default: 's.yaml' },
  } as const
  const args = parseCommand(argv, { options }, USAGE, { out, err }, ({ values }) => ({ ...values, sYaml: values['s-yaml'] }))
  if (typeof args === 'number') return args
  const rulesText = readText(args.rules, err)
  if (rulesText === undefined) return 1
  const sYamlText = readText(args.sYaml, err)
  if (sYamlText === undefined) return 1
  const rules = validateRulesText(rulesText)
  if (!rules.ok) {
    err(`${args.rules}: invalid rules, s.yaml not checked:`)
    for (const e of rules.errors) err(`${e.path}: ${e.message}`)
    return 1
  }
  let sync: ReturnType<typeof syncTriggers>
  try {
    sync = syncTriggers(sYamlText, rules.ruleSet)
  } catch (e) {
    if (e instanceof SYamlError) {
      err(`${args.sYaml}: ${e.message}`)
      return 1
    }
    throw e
  }
  const count = rules.ruleSet.rules.filter((r) => r.enabled).length
  const triggers = count === 1 ? 'trigger' : 'triggers'
  if (args.check) {
    if (sync.differences.length === 0) {
      out(`${args.sYaml}: the bridge's ${count} RocketMQ ${triggers} agree with ${args.rules}`)
      return 0
    }
    err(`${args.sYaml}: the bridge's triggers disagree with ${args.rules}:`)
    for (const d of sync.differences) err(`  ${d}`)
    err('run `npm run triggers` to rewrite them')
    return 1
  }
  if (!sync.changed) {
    out(`${args.sYaml}: already up to date (${count} ${triggers})`)
    return 0
  }
  writeFileSync(args.sYaml, sync.text)
  out(`${args.sYaml}: wrote ${count} RocketMQ ${triggers} from ${args.rules}:`)
  for (const d of sync.differences) out(`  ${d}`)
  return 0
}

if (isMain(import.meta.url)) process.exitCode = main(process.argv.slice(2))
