// What mapping one message costs, in process, no broker (docs/performance.md, "Routes: what one message costs"):
// the rule's target with mqttSecondTopic against templated routes, by the bridge's own mapMessage and through
// parseEvent and planBatch. Rounds alternate between the variants so that drift in the machine's speed touches all
// alike; medians count. npm run bench runs it too.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import { planBatch } from '../../shared/bridge/plan.js'
import { parseEvent } from '../../shared/events/parse.js'
import { mapMessage } from '../../shared/mapping/map-message.js'
import { RuleIndex } from '../../shared/mapping/rule-index.js'
import { validateRules } from '../../shared/rules/validate.js'
import { isMain } from '../cli/command.js'
import { median } from './measure.js'
import { cloudEvents } from './messages.js'
import { table } from './report.js'

const INSTANCE = 'MQ_INST_1234567890123456_BenchMap'
/** At most 10 % slower per message than mqttSecondTopic. */
const TARGET_RATIO = 1.1

const source = { regionId: 'cn-hangzhou', instanceId: INSTANCE, topic: 'lamps', groupId: 'GID_bench_map' }
const body = (i: number) => JSON.stringify({ kind: 'lamp', room: `room${i % 20}`, state: i % 2 === 0 ? 'on' : 'off', seq: i })
const rule = (routes?: object[]) => ({ id: 'lamps', source, target: { parentTopic: 'home' }, ...(routes && { routes }) })

/** Each variant's rule, and the user properties of message i. */
const VARIANTS: Array<{ name: string; rule: object; properties: (i: number) => Record<string, string> }> = [
  { name: 'target + mqttSecondTopic', rule: rule(), properties: (i) => ({ mqttSecondTopic: `/room${i % 20}/lamp` }) },
  {
    name: 'route: filter and template on properties',
    rule: rule([{ when: { 'userProperties.kind': 'lamp' }, topic: 'home/${userProperties.room}/lamp' }]),
    properties: (i) => ({ kind: 'lamp', room: `room${i % 20}` }),
  },
  {
    name: 'route: filter and template on the JSON body',
    rule: rule([{ when: { 'body.kind': 'lamp' }, topic: 'home/${body.room}/lamp' }]),
    properties: () => ({}),
  },
]

export type MappingFigures = ReturnType<typeof measureMapping>

export function measureMapping(plan = { messages: 2000, rounds: 61 }) {
  const setups = VARIANTS.map((v) => {
    const r = validateRules({ defaults: { profile: 'alibaba' }, rules: [v.rule] })
    if (!r.ok) throw new Error(`bench rule ${v.name} is invalid: ${JSON.stringify(r.errors)}`)
    const event = Array.from({ length: plan.messages }, (_, i) => ({
      topic: 'lamps',
      systemProperties: { UNIQ_KEY: `M${i}`, INSTANCE_ID: INSTANCE, TAGS: 'TagA' },
      userProperties: v.properties(i),
      body: body(i),
    }))
    const parsed = parseEvent(event)
    return { v, index: new RuleIndex(r.ruleSet), messages: parsed.messages, cloudEvents: cloudEvents(INSTANCE, 'lamps', event) }
  })
  const run = (s: (typeof setups)[number]): number => {
    const started = process.hrtime.bigint()
    for (const m of s.messages) {
      const r = mapMessage(m, s.index)
      if (!r.ok) throw new Error(`${s.v.name}: message ${m.index} was not mapped: ${r.reason}`)
    }
    return Number(process.hrtime.bigint() - started) / s.messages.length
  }
  const runWhole = (s: (typeof setups)[number]): number => {
    const started = process.hrtime.bigint()
    const planned = planBatch(parseEvent(s.cloudEvents), s.index)
    const elapsed = Number(process.hrtime.bigint() - started) / s.messages.length
    const published = planned.filter((p) => p.status === 'publish').length
    if (published !== s.messages.length) throw new Error(`${s.v.name}: ${published} of ${s.messages.length} planned for publishing`)
    return elapsed
  }
  const [samples, wholeSamples] = [setups.map((): number[] => []), setups.map((): number[] => [])]
  // 3 warm-up rounds first.
  for (let round = -3; round < plan.rounds; round++)
    setups.forEach((s, k) => {
      const [mapped, whole] = [run(s), runWhole(s)]
      if (round < 0) return
      samples[k]!.push(mapped)
      wholeSamples[k]!.push(whole)
    })
  const figure = (xs: number[][], k: number) => {
    // Paired per round: a burst of load elsewhere on the machine slows a round's variants alike.
    const ratio = Math.round(median(xs[k]!.map((x, round) => x / xs[0]![round]!)) * 100) / 100
    return { nsPerMessage: Math.round(median(xs[k]!)), ratio, meetsTarget: ratio <= TARGET_RATIO }
  }
  return {
    messages: plan.messages,
    rounds: plan.rounds,
    method: `mapMessage over ${plan.messages.toLocaleString('en-US')} parsed messages per round, and the same messages as a CloudEvents Buffer through parseEvent and planBatch; ${plan.rounds} rounds, each running every variant back to back after 3 warm-up rounds; ns: the median round; ratio: the median of each round's ratio`,
    rows: setups.map((s, k) => ({ variant: s.v.name, ...figure(samples, k), beforeNetwork: figure(wholeSamples, k) })),
  }
}

export function renderMapping(f: MappingFigures): string {
  // The first variant is the reference itself.
  const vs = (x: { ratio: number; meetsTarget: boolean }, k: number) =>
    `${x.ratio.toFixed(2)}×${k === 0 ? '' : x.meetsTarget ? ' (met)' : ' (missed)'}`
  const rows = f.rows.map((r, k) => [r.variant, r.nsPerMessage, vs(r, k), r.beforeNetwork.nsPerMessage, vs(r.beforeNetwork, k)])
  return [
    '## Mapping one message: templated routes against mqttSecondTopic',
    '',
    `target: a templated route at most ${Math.round((TARGET_RATIO - 1) * 100)} % slower per message; ${f.method}`,
    '',
    table('variant|mapping: ns per message|vs mqttSecondTopic|before the network: ns per message|vs mqttSecondTopic', rows),
  ].join('\n')
}

const HELP = `usage: tsx scripts/bench/mapping.ts [--quick] [--json]

Measures the per-message cost of mapping (no broker): the rule's target with mqttSecondTopic against
templated routes reading properties and the JSON body, in one run. npm run bench runs it too.
  --quick  a short run (CI)
  --json   the figures as JSON
  --help   this text`

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2)
  const figures = args.includes('--help') ? undefined : measureMapping(args.includes('--quick') ? { messages: 1000, rounds: 3 } : undefined)
  console.log(!figures ? HELP : args.includes('--json') ? JSON.stringify(figures, null, 2) : renderMapping(figures))
}
