// The measured scenarios on a broker (docs/performance.md, "Method"): throughput per transport, protocol version,
// QoS and batch size; across a round trip (the latency proxy), batches against what the window allows, and single
// messages end to end; MQTT_RATE_LIMIT against the rate delivered. Every set is counted at the subscriber.
import { connectAsync, type IConnackPacket } from 'mqtt'
import { messageOf } from '../../shared/errors.js'
import type { Broker } from '../mqtt/mosquitto.js'
import { type BridgeModule, openBridge } from './bridge.js'
import type { Deliveries } from './deliveries.js'
import { startLatencyProxy } from './latency-proxy.js'
import { backToBack, type Measurement, measure, ms, round, type Tally } from './measure.js'
import type { BenchQos } from './messages.js'
import { mosquittoPub, naive, type Publisher, plainLoop, type ScenarioShape } from './publishers.js'

export type Batch = 1 | 100 | 1000 | 10000
export type BrokerKind = 'default' | 'no-delay'
export type ThroughputRow = Awaited<ReturnType<typeof runThroughput>>[number]
export type LatencyRow = Awaited<ReturnType<typeof runNetwork>>['rows'][number]
export type SingleRow = Awaited<ReturnType<typeof runNetwork>>['singles'][number]
export type RateRow = Awaited<ReturnType<typeof runRateLimit>>[number]

/** How many batches are measured (after the warm-up) per batch size, for the bridge and each reference. */
export interface Counts {
  batches: Record<Batch, number>
  naiveBatches: Record<Batch, number>
  mosquittoPubBatches: Record<Batch, number>
  /** Across a round trip: the batch size, how many batches, and how many single messages. */
  network: { batch: number; batches: number; singles: number }
  /** MQTT_RATE_LIMIT settings, each for `seconds` worth of messages. */
  rate: { settings: number[]; seconds: number }
}

/**
 * What runs on each broker: per transport, batch sizes and their QoS levels; the naive handler on the defaults only.
 * Over TLS (verified): single messages, where a connection per invocation costs most, and the delayed-ACK batch.
 */
const MATRIX: Record<BrokerKind, { naive: boolean; tcp: Partial<Record<Batch, BenchQos[]>>; tls: Partial<Record<Batch, BenchQos[]>> }> = {
  default: { naive: true, tcp: { 1: [0, 1], 100: [0, 1], 1000: [0, 1], 10000: [0, 1] }, tls: { 1: [0, 1], 100: [1] } },
  'no-delay': { naive: false, tcp: { 100: [0, 1], 1000: [0, 1] }, tls: { 100: [1] } },
}

export const ROUND_TRIPS_MS = [0, 2, 20]
/** The round trip of the single-message latency, and the one the window targets apply to (the only one on the no-delay broker). */
export const SINGLE_RTT_MS = 2
export const TARGET_RTT_MS = 20
/** The most messages a RocketMQ trigger pushes at once (docs/platform-facts.md): a longer run is several invocations. */
const LARGEST_BATCH = 10_000

export interface Run {
  bridge: BridgeModule
  deadLetterDir: string
  counts: Counts
  problems: string[]
  bridgeProblems: string[]
  count: (scenario: string, c: { sent: number; delivered: number; duplicates?: number }) => void
  log: (line: string) => void
}

export const proto = (v: 4 | 5) => (v === 5 ? '5' : '3.1.1')

/** Bridge msg/s over the reference's, to two places. */
function ratio(a?: Measurement, b?: Measurement): number | undefined {
  return a && b && b.messagesPerSecond > 0 ? Math.round((a.messagesPerSecond / b.messagesPerSecond) * 100) / 100 : undefined
}

/** A publisher opened, used and closed; a failure is a problem of the run, not the end of it. */
async function guarded<T>(run: Run, label: string, open: () => Publisher | Promise<Publisher>, use: (p: Publisher) => Promise<T>) {
  let publisher: Publisher | undefined
  try {
    publisher = await open()
    return await use(publisher)
  } catch (err) {
    run.problems.push(`${label}: ${messageOf(err)}`)
    return undefined
  } finally {
    await publisher?.close().catch((err) => run.problems.push(`${label}: close: ${String(err)}`))
  }
}

/** One measured set, counted. */
const measured = (run: Run, label: string, open: () => Publisher | Promise<Publisher>, d: Deliveries, batch: number, batches: number) =>
  guarded(run, label, open, async (p) => {
    const m = await measure(p, d, batch, batches, batch === 1 ? 20 : 1)
    run.count(label, m)
    return m
  })

const bridgeOf = (run: Run, shape: ScenarioShape, pool: number, rateLimit?: number) => () =>
  openBridge(run.bridge, { ...shape, pool, deadLetterDir: run.deadLetterDir, rateLimit }, run.bridgeProblems)

export async function runThroughput(run: Run, broker: Broker, kind: BrokerKind, d: Deliveries) {
  const rows = []
  const { naive: withNaive, ...transports } = MATRIX[kind]
  const { batches, naiveBatches, mosquittoPubBatches } = run.counts
  for (const transport of ['tcp', 'tls'] as const)
    for (const version of [5, 4] as const)
      for (const [size, levels] of Object.entries(transports[transport]))
        for (const qos of levels) {
          const batch = Number(size) as Batch
          const tls = transport === 'tls'
          const shape: ScenarioShape = { url: tls ? broker.tlsUrl! : broker.url, qos, version, ...(tls ? { caFile: broker.caFile! } : {}) }
          const label = (who: string) => `${who}, ${kind} broker, batch ${batch}, QoS ${qos}, MQTT ${proto(version)}${tls ? ', tls' : ''}`
          run.log(`bench: ${label('throughput')}…`)
          const mosquittoPubM = await measured(run, label('mosquitto_pub'), () => mosquittoPub(shape), d, batch, mosquittoPubBatches[batch])
          const plain = await measured(run, label('MQTT.js loop'), () => plainLoop(shape), d, batch, batches[batch])
          const naiveM = withNaive ? await measured(run, label('naive'), () => naive(shape), d, batch, naiveBatches[batch]) : undefined
          for (const pool of [1, 4]) {
            const b = await measured(run, label(`bridge pool ${pool}`), bridgeOf(run, shape, pool), d, batch, batches[batch])
            // Absent figures are undefined, which the JSON leaves out.
            rows.push({
              ...{ broker: kind, transport, batch, qos, version, pool },
              ...{ bridge: b, mosquittoPub: mosquittoPubM, plain, naive: naiveM },
              ratios: { mosquittoPub: ratio(b, mosquittoPubM), plain: ratio(b, plain), naive: ratio(b, naiveM) },
            })
          }
        }
  return rows
}

/** The receive maximum the broker announces to an MQTT 5 client (65535 when it announces none). */
async function receiveMaximum(url: string): Promise<number> {
  const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `bench-probe-${process.pid}` })
  await client.endAsync()
  return (client as unknown as { connackPacket?: IConnackPacket }).connackPacket?.properties?.receiveMaximum ?? 65535
}

/** QoS 1 batches over MQTT 5 through the latency proxy; `ceiling`: receive maximum × pool / round trip, msg/s. */
export async function runNetwork(run: Run, brokers: Array<{ kind: BrokerKind; broker: Broker; deliveries: Deliveries }>) {
  const { batch, batches, singles: singleCount } = run.counts.network
  const rows = []
  const singles = []
  for (const { kind, broker, deliveries: d } of brokers) {
    const rm = await receiveMaximum(broker.url)
    for (const rttMs of kind === 'default' ? ROUND_TRIPS_MS : [TARGET_RTT_MS]) {
      const proxy = await startLatencyProxy({ host: '127.0.0.1', port: broker.port }, { rttMs })
      try {
        const shape = (qos: BenchQos): ScenarioShape => ({ url: proxy.url, qos, version: 5 })
        const label = (who: string, n: number, qos: BenchQos) =>
          `${who}, ${kind} broker, ${rttMs} ms round trip, batch ${n}, QoS ${qos}, MQTT 5`
        run.log(`bench: ${label('network', batch, 1)}…`)
        const ref = await measured(run, label('mosquitto_pub -M 20', batch, 1), () => mosquittoPub(shape(1)), d, batch, batches)
        for (const pool of [1, 4]) {
          const b = await measured(run, label(`bridge pool ${pool}`, batch, 1), bridgeOf(run, shape(1), pool), d, batch, batches)
          const ceiling = rttMs > 0 ? Math.round((rm * pool * 1000) / rttMs) : undefined
          const ofCeiling = ceiling !== undefined && b ? Math.round((b.messagesPerSecond / ceiling) * 100) / 100 : undefined
          rows.push({
            ...{ broker: kind, rttMs, pool, batch, receiveMaximum: rm, bridge: b, mosquittoPub: ref, ceiling, ofCeiling },
            ratios: { mosquittoPub: ratio(b, ref) },
          })
        }
        if (rttMs !== SINGLE_RTT_MS || kind !== 'default') continue
        for (const qos of [0, 1] as const)
          for (const [who, open] of [
            ['bridge pool 1', bridgeOf(run, shape(qos), 1)],
            ['MQTT.js loop', () => plainLoop(shape(qos))],
          ] as const) {
            const m = await measured(run, label(who, 1, qos), open, d, 1, singleCount)
            if (m) singles.push({ broker: kind, rttMs, qos, who, endToEndMs: m.endToEndMs, callMs: m.callMs })
          }
      } finally {
        await proxy.close()
      }
    }
  }
  return { rows, singles }
}

/**
 * Per MQTT_RATE_LIMIT setting (docs/performance.md, "The rate limit"): the bridge at pool 1, QoS 1, MQTT 5 on the
 * defaults, `seconds` worth of messages in invocations back to back after a warm-up of the same. The lead (until the
 * first delivery) and the paced rate (first to last delivery of each invocation) say where a miss comes from.
 */
export async function runRateLimit(run: Run, broker: Broker, d: Deliveries) {
  const rows = []
  const { settings, seconds } = run.counts.rate
  for (const setting of settings) {
    const label = `bridge pool 1, MQTT_RATE_LIMIT=${setting}, default broker, QoS 1, MQTT 5`
    run.log(`bench: ${label}…`)
    const messages = Math.max(2, Math.round(setting * seconds))
    const sizes = Array.from({ length: Math.ceil(messages / LARGEST_BATCH) }, (_, i) =>
      Math.min(LARGEST_BATCH, messages - i * LARGEST_BATCH),
    )
    const row = await guarded(run, label, bridgeOf(run, { url: broker.url, qos: 1, version: 5 }, 1, setting), async (publisher) => {
      const tally: Tally = { sent: 0, delivered: 0, duplicates: 0 }
      await backToBack(publisher, d, sizes, tally) // the warm-up: connection open, code compiled, the schedule running
      const { starts, got, end } = await backToBack(publisher, d, sizes, tally)
      run.count(label, tally)
      const total = ms(starts[0]!, end) / 1000
      const achieved = Math.round(messages / total)
      // Within each invocation, first to last delivery (the next one's parsing is lead, not pacing).
      const span = got.reduce((a, g) => a + ms(g.firstAt, g.lastAt), 0)
      return {
        ...{ setting, messages, invocations: sizes.length, seconds: round(total), achieved, ratio: round(achieved / setting) },
        leadMs: round(ms(starts[0]!, got[0]!.firstAt), 1),
        paced: Math.round(((messages - sizes.length) * 1000) / span),
      }
    })
    if (row) rows.push(row)
  }
  return rows
}
