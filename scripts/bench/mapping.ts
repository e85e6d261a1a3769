// npm run bench measures this too; alone: tsx scripts/bench/mapping.ts [--quick] [--json].
// The cost of mapping one message (docs/performance.md, "Routes: what one message costs"): the rule's target with
// mqttSecondTopic against templated routes, in one process and one run, no broker. Each variant maps the
// same batch of already-parsed messages with the bridge's own mapMessage, and, apart, takes the same batch
// as Function Compute hands it (a Buffer of CloudEvents) through everything the bridge does before the
// network: parseEvent and planBatch. Rounds alternate between the variants so that drift in the machine's
// speed touches all of them alike; medians count.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { planBatch } from '../../shared/bridge/plan.js'
import { parseEvent } from '../../shared/events/parse.js'
import { mapMessage } from '../../shared/mapping/map-message.js'
import { RuleIndex } from '../../shared/mapping/rule-index.js'
import { validateRules } from '../../shared/rules/validate.js'
import { cloudEvents } from './messages.js'

const INSTANCE = 'MQ_INST_1234567890123456_BenchMap'
/** At most 10 % slower per message than mqttSecondTopic (docs/performance.md, "Routes: what one message costs"). */
export const TARGET_RATIO = 1.1

interface Variant {
  name: string
  rule: Record<string, unknown>
  /** The user properties and body of message i. */
  message: (i: number) => { userProperties: Record<string, string>; body: string }
}

const source = { regionId: 'cn-hangzhou', instanceId: INSTANCE, topic: 'lamps', groupId: 'GID_bench_map' }
const body = (i: number) => JSON.stringify({ kind: 'lamp', room: `room${i % 20}`, state: i % 2 === 0 ? 'on' : 'off', seq: i })

export const VARIANTS: Variant[] = [
  {
    name: 'target + mqttSecondTopic',
    rule: { id: 'lamps', source, target: { parentTopic: 'home' } },
    message: (i) => ({ userProperties: { mqttSecondTopic: `/room${i % 20}/lamp` }, body: body(i) }),
  },
  {
    name: 'route: filter and template on properties',
    rule: {
      id: 'lamps',
      source,
      target: { parentTopic: 'home' },
      routes: [{ when: { 'userProperties.kind': 'lamp' }, topic: 'home/${userProperties.room}/lamp' }],
    },
    message: (i) => ({ userProperties: { kind: 'lamp', room: `room${i % 20}` }, body: body(i) }),
  },
  {
    name: 'route: filter and template on the JSON body',
    rule: {
      id: 'lamps',
      source,
      target: { parentTopic: 'home' },
      routes: [{ when: { 'body.kind': 'lamp' }, topic: 'home/${body.room}/lamp' }],
    },
    message: (i) => ({ userProperties: {}, body: body(i) }),
  },
]

export interface MappingRow {
  variant: string
  /** Median over the rounds, nanoseconds per message. */
  nsPerMessage: number
  /** Against the first variant (mqttSecondTopic), this run. */
  ratio: number
  meetsTarget: boolean
  /** The same messages from the CloudEvents Buffer through parseEvent and planBatch: median ns per message, ratio. */
  beforeNetwork: { nsPerMessage: number; ratio: number; meetsTarget: boolean }
}

export interface MappingFigures {
  messages: number
  rounds: number
  method: string
  rows: MappingRow[]
}

export function measureMapping(plan: { messages: number; rounds: number } = { messages: 2000, rounds: 61 }): MappingFigures {
  const setups = VARIANTS.map((v) => {
    const r = validateRules({ defaults: { profile: 'alibaba' }, rules: [v.rule] })
    if (!r.ok) throw new Error(`bench rule ${v.name} is invalid: ${JSON.stringify(r.errors)}`)
    const event = Array.from({ length: plan.messages }, (_, i) => ({
      topic: 'lamps',
      systemProperties: { UNIQ_KEY: `M${i}`, INSTANCE_ID: INSTANCE, TAGS: 'TagA' },
      ...v.message(i),
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
  for (let w = 0; w < 3; w++)
    for (const s of setups) {
      run(s)
      runWhole(s)
    }
  const samples = setups.map(() => [] as number[])
  const wholeSamples = setups.map(() => [] as number[])
  for (let round = 0; round < plan.rounds; round++)
    setups.forEach((s, k) => {
      samples[k]!.push(run(s))
      wholeSamples[k]!.push(runWhole(s))
    })
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  // Paired per round: a burst of load elsewhere on the machine slows a round's variants alike.
  const pairedRatio = (xs: number[][], k: number) => Math.round(median(xs[k]!.map((x, round) => x / xs[0]![round]!)) * 100) / 100
  return {
    messages: plan.messages,
    rounds: plan.rounds,
    method: `mapMessage over ${plan.messages.toLocaleString('en-US')} parsed messages per round, and the same messages as a CloudEvents Buffer through parseEvent and planBatch; ${plan.rounds} rounds, each running every variant back to back after 3 warm-up rounds; ns: the median round; ratio: the median of each round's ratio`,
    rows: setups.map((s, k) => {
      const ratio = pairedRatio(samples, k)
      const wholeRatio = pairedRatio(wholeSamples, k)
      return {
        variant: s.v.name,
        nsPerMessage: Math.round(median(samples[k]!)),
        ratio,
        meetsTarget: ratio <= TARGET_RATIO,
        beforeNetwork: { nsPerMessage: Math.round(median(wholeSamples[k]!)), ratio: wholeRatio, meetsTarget: wholeRatio <= TARGET_RATIO },
      }
    }),
  }
}

export function renderMapping(f: MappingFigures): string {
  const lines = [
    '## Mapping one message: templated routes against mqttSecondTopic',
    '',
    `target: a templated route at most ${Math.round((TARGET_RATIO - 1) * 100)} % slower per message; ${f.method}`,
    '',
    '| variant | mapping: ns per message | vs mqttSecondTopic | before the network: ns per message | vs mqttSecondTopic |',
    '|---|---|---|---|---|',
    ...f.rows.map((r, k) => {
      const mark = (met: boolean) => (k === 0 ? '' : met ? ' (met)' : ' (missed)')
      const b = r.beforeNetwork
      return `| ${r.variant} | ${r.nsPerMessage} | ${r.ratio.toFixed(2)}×${mark(r.meetsTarget)} | ${b.nsPerMessage} | ${b.ratio.toFixed(2)}×${mark(b.meetsTarget)} |`
    }),
  ]
  return lines.join('\n')
}

const HELP = `usage: tsx scripts/bench/mapping.ts [--quick] [--json]

Measures the per-message cost of mapping (no broker): the rule's target with mqttSecondTopic against
templated routes reading properties and the JSON body, in one run. npm run bench runs it too.
  --quick  a short run (CI)
  --json   the figures as JSON
  --help   this text`

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  if (args.includes('--help')) console.log(HELP)
  else {
    const figures = measureMapping(args.includes('--quick') ? { messages: 1000, rounds: 3 } : undefined)
    console.log(args.includes('--json') ? JSON.stringify(figures, null, 2) : renderMapping(figures))
  }
}
