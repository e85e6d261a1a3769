// A seeded day of the bridge's logs as `s logs` prints them, shaped like production (docs/operations.md shows its
// report): traffic that follows the hours, dead letters from a bad deploy at 09:30 UTC, a broker outage at 14:05–14:17.
//   tsx scripts/bench/log-day.ts [--invocations N] [--end <ISO time>] > day.log
import { createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isMain } from '../cli/command.js'

const OUTAGE = [14 * 60 + 5, 14 * 60 + 17]
const BURST = [9 * 60 + 30, 9 * 60 + 34]
const URL = 'mqtts://post-cn-abcd1234.mqtt.aliyuncs.com:8883'
const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** Traffic by minute of the day: quiet at night, busy from 8 to 20. */
const weight = (minute: number) => 0.25 + Math.max(0, Math.sin(((minute - 6 * 60) / (16 * 60)) * Math.PI))

/** The day's lines, ending at `end`, with `invocations` bridge.invocation lines in all, spread by `weight`. */
export function* logDay(invocations: number, end: Date): Generator<string> {
  let seed = 42
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  const start = end.getTime() - 24 * 60 * 60_000
  let total = 0
  for (let m = 0; m < 1440; m++) total += weight(m)
  // Function Compute's own stamp leaves the hour unpadded.
  const local = (t: number, fc = false) => {
    const d = new Date(t)
    const hour = fc ? String(d.getHours()) : pad(d.getHours())
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hour}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  }
  let n = 0
  let cumulative = 0
  let connected = false
  let instance = 'c-6650a1b2-5f1a0e23c4d84a7b9e01'
  const client = 'GID_bridge@@@8ezd9b9efx0'
  for (let m = 0; m < 1440; m++) {
    const clock = new Date(start + m * 60_000)
    const minuteOfDay = clock.getUTCHours() * 60 + clock.getUTCMinutes()
    cumulative += weight(m)
    const inMinute = Math.round((invocations * cumulative) / total) - n
    const down = minuteOfDay >= OUTAGE[0]! && minuteOfDay < OUTAGE[1]!
    const burst = minuteOfDay >= BURST[0]! && minuteOfDay < BURST[1]!
    // Lag piles up behind the outage and drains over the next 20 minutes.
    const behind = minuteOfDay >= OUTAGE[1]! && minuteOfDay < OUTAGE[1]! + 20 ? (OUTAGE[1]! + 20 - minuteOfDay) * 30_000 : 0
    for (let i = 0; i < inMinute; i++, n++) {
      const t = clock.getTime() + Math.floor((i * 60_000) / inMinute)
      const head = (level: string, requestId: string) =>
        `\u001b[36m${instance}\u001b[0m \u001b[2m${local(t, true)}\u001b[0m \u001b[1;32m${local(t)}\u001b[0m ${requestId} [${level}] `
      const requestId = `1-${(t / 1000).toString(16).slice(0, 8)}-${pad(n, 12)}`
      const rule = random() < 0.7 ? 'home-lamps' : 'device-commands'
      const received = 1 + Math.floor(random() * 20)
      const line = (level: string, fields: object) => `${head(level, requestId)}${JSON.stringify({ ...fields, requestId })}`
      if (!connected && !down) {
        if (n > 0) instance = `c-6650a1b3-${pad(n, 20)}`
        yield line('info', { event: 'mqtt.connected', clientId: client, url: URL, version: '5', window: 20 })
        connected = true
      }
      let [published, deadLettered, failed, duplicates, filtered] = [received, 0, 0, 0, 0]
      const each = (count: number, level: string, event: string, fields: object) =>
        Array.from({ length: count }, (_, k) => line(level, { event, ruleId: rule, messageId: `M${n}-${k}`, index: k, ...fields }))
      if (down) {
        if (connected)
          yield line('warn', { event: 'mqtt.client-error', clientId: client, url: URL, error: 'connection reset (ECONNRESET)' })
        connected = false
        ;[published, failed] = [0, received]
        const reason = `cannot reach the MQTT broker at ${URL}: ECONNREFUSED`
        yield* each(Math.min(failed, 20), 'error', 'bridge.failure', { topic: 'home/room1/lamp', reason })
      } else if (burst || random() < 0.01) {
        deadLettered = burst ? received : 1
        published = received - deadLettered
        const reason = 'userProperties.qoslevel: must be 0, 1 or 2, got "3"'
        yield* each(deadLettered, 'warn', 'bridge.dead-letter', { reason, target: 'fc:rocketmq-mqtt-dead-letter', handedOff: true })
      } else if (random() < 0.02) {
        duplicates = 1
        published--
        yield line('info', { event: 'bridge.duplicates', duplicates, rules: { [rule]: duplicates } })
      } else if (rule === 'device-commands' && random() < 0.1) {
        filtered = 1
        published--
        yield line('info', { event: 'bridge.filtered', filtered, rules: { [rule]: filtered } })
      }
      const lagMs = Math.round(80 + random() * 400 + behind + (random() < 0.01 ? 5000 : 0))
      const counts = { received, published, deadLettered, duplicates, filtered, expired: 0, failed, durationMs: 40, lagMs }
      const rules = published > 0 ? { [rule]: published } : {}
      const rest = { rules, droppedV5Properties: 0, shape: 'event-streaming', outcome: failed > 0 ? 'retry' : 'ok' }
      yield line(failed > 0 ? 'error' : 'info', { event: 'bridge.invocation', ...counts, ...rest })
    }
  }
}

if (isMain(import.meta.url)) {
  const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
  const day = logDay(Number(arg('--invocations') ?? 2880), new Date(arg('--end') ?? '2026-02-01T00:00:00Z'))
  await pipeline(
    Readable.from(day).map((line) => `${line}\n`),
    createWriteStream('/dev/stdout'),
  )
}
