// The measured scenarios on a broker (docs/performance.md, "Method"): throughput per transport, protocol version,
// QoS and batch size; across a round trip (the latency proxy), batches against what the window allows, and single
// messages end to end. Every set is counted at the subscriber, on the broker directly.
import { connectAsync, type IConnackPacket } from 'mqtt'
import { messageOf } from '../../shared/errors.js'
import type { Broker } from '../mqtt/mosquitto.js'
import { type BridgeModule, openBridge } from './bridge.js'
import type { Deliveries } from './deliveries.js'
import { startLatencyProxy } from './latency-proxy.js'
import { measure } from './measure.js'
import type { BenchQos } from './messages.js'
import { mosquittoPub, naive, type Publisher, plainLoop, type ScenarioShape } from './publishers.js'
import { type BrokerKind, type LatencyRow, proto, ratio, type SingleRow, type ThroughputRow } from './report.js'

export type Batch = 1 | 100 | 1000 | 10000

/** How many batches are measured (after the warm-up) per batch size, for the bridge and each reference. */
export interface Counts {
  batches: Record<Batch, number>
  naiveBatches: Record<Batch, number>
  mosquittoPubBatches: Record<Batch, number>
  /** Across a round trip: the batch size, how many batches, and how many single messages. */
  network: { batch: number; batches: number; singles: number }
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
/** The round trip of the single-message latency, and the one the window targets apply to. */
export const SINGLE_RTT_MS = 2
export const TARGET_RTT_MS = 20

export interface Run {
  bridge: BridgeModule
  deadLetterDir: string
  counts: Counts
  problems: string[]
  bridgeProblems: string[]
  count: (scenario: string, c: { sent: number; delivered: number; duplicates?: number }) => void
  log: (line: string) => void
}

/** A publisher opened, used and closed; a failure is a problem of the run, not the end of it. */
export async function guarded<T>(run: Run, label: string, open: () => Publisher | Promise<Publisher>, use: (p: Publisher) => Promise<T>) {
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

const bridgeOf = (run: Run, shape: ScenarioShape, pool: number) => () =>
  openBridge(run.bridge, { ...shape, pool, deadLetterDir: run.deadLetterDir }, run.bridgeProblems)

export async function runThroughput(run: Run, broker: Broker, kind: BrokerKind, d: Deliveries): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = []
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
            rows.push({
              ...{ broker: kind, transport, batch, qos, version, pool },
              ...(b && { bridge: b }),
              ...(mosquittoPubM && { mosquittoPub: mosquittoPubM }),
              ...(plain && { plain }),
              ...(naiveM && { naive: naiveM }),
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

export async function runNetwork(
  run: Run,
  brokers: Array<{ kind: BrokerKind; broker: Broker; deliveries: Deliveries; rtts: number[] }>,
): Promise<{ rows: LatencyRow[]; singles: SingleRow[] }> {
  const { batch, batches, singles: singleCount } = run.counts.network
  const rows: LatencyRow[] = []
  const singles: SingleRow[] = []
  for (const { kind, broker, deliveries: d, rtts } of brokers) {
    const rm = await receiveMaximum(broker.url)
    for (const rttMs of rtts) {
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
          rows.push({
            ...{ broker: kind, rttMs, pool, batch, receiveMaximum: rm },
            ...(b && { bridge: b }),
            ...(ref && { mosquittoPub: ref }),
            ...(ceiling !== undefined && { ceiling }),
            ...(ceiling !== undefined && b && { ofCeiling: Math.round((b.messagesPerSecond / ceiling) * 100) / 100 }),
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
