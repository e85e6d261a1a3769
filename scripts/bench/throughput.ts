// The throughput scenarios: for each transport, protocol version, QoS and batch size, the references
// (mosquitto_pub, the MQTT.js loop, the naive handler) and the bridge at pool 1 and pool 4, on one broker,
// each counted at the subscriber. Which combinations run on which broker is the matrix's business.
import { messageOf } from '../../shared/errors.js'
import { type BridgeModule, openBridge } from './bridge.js'
import type { BenchBroker } from './broker.js'
import type { Deliveries } from './deliveries.js'
import { type Measurement, measure } from './measure.js'
import type { BenchQos } from './messages.js'
import type { Protocol, Publisher, ScenarioShape } from './publishers.js'
import { mosquittoPub, naive, plainLoop } from './references.js'
import { type BrokerKind, ratio, type ThroughputRow } from './report.js'

export type Batch = 1 | 100 | 1000 | 10000

/** Measured batches per batch size (after the warm-up), for the bridge and each reference. */
export interface Counts {
  batches: Record<Batch, number>
  naiveBatches: Record<Batch, number>
  mosquittoPubBatches: Record<Batch, number>
}

/** What runs on one broker: per transport, the batch sizes and QoS levels, and whether the naive handler is measured. */
export interface Matrix {
  transports: Array<{ name: 'tcp' | 'tls'; cells: Array<{ batch: Batch; qos: BenchQos[] }> }>
  naive: boolean
}

export const VERSIONS: Protocol[] = [5, 4]
export const POOLS = [1, 4]

/** Mosquitto's defaults (Nagle on): everything, TCP and TLS. */
export const DEFAULT_MATRIX: Matrix = {
  transports: [
    {
      name: 'tcp',
      cells: [
        { batch: 1, qos: [0, 1] },
        { batch: 100, qos: [0, 1] },
        { batch: 1000, qos: [0, 1] },
        { batch: 10000, qos: [0, 1] },
      ],
    },
    // Over TLS (certificate verified, as production brokers are reached): single messages, where a connection
    // per invocation costs most, and the QoS 1 batch of 100 of the delayed-ACK target.
    {
      name: 'tls',
      cells: [
        { batch: 1, qos: [0, 1] },
        { batch: 100, qos: [1] },
      ],
    },
  ],
  naive: true,
}

/** The same broker with set_tcp_nodelay true: the delayed-ACK target's other half and the batches of 1,000. */
export const NO_DELAY_MATRIX: Matrix = {
  transports: [
    {
      name: 'tcp',
      cells: [
        { batch: 100, qos: [0, 1] },
        { batch: 1000, qos: [0, 1] },
      ],
    },
    { name: 'tls', cells: [{ batch: 100, qos: [1] }] },
  ],
  naive: false,
}

export interface ThroughputRun {
  bridge: BridgeModule
  broker: BenchBroker
  brokerKind: BrokerKind
  deliveries: Deliveries
  deadLetterDir: string
  counts: Counts
  problems: string[]
  bridgeProblems: string[]
  count: (scenario: string, m: Measurement) => void
  log: (line: string) => void
}

export async function runThroughput(run: ThroughputRun, matrix: Matrix): Promise<ThroughputRow[]> {
  const { broker, brokerKind, deliveries, counts, problems, count, log } = run
  const rows: ThroughputRow[] = []
  for (const transport of matrix.transports) {
    const url = transport.name === 'tcp' ? broker.url : broker.tlsUrl
    for (const version of VERSIONS) {
      for (const cell of transport.cells) {
        for (const qos of cell.qos) {
          const batch = cell.batch
          const shape: ScenarioShape = { url, qos, version, ...(transport.name === 'tls' ? { caFile: broker.caFile } : {}) }
          const label = (who: string) =>
            `${who}, ${brokerKind} broker, batch ${batch}, QoS ${qos}, MQTT ${version === 5 ? '5' : '3.1.1'}${transport.name === 'tcp' ? '' : `, ${transport.name}`}`
          const warmup = batch === 1 ? 20 : 1
          const measured = async (who: string, open: () => Publisher | Promise<Publisher>, batches: number) => {
            let publisher: Publisher | undefined
            try {
              publisher = await open()
              const m = await measure(publisher, deliveries, batch, batches, warmup)
              count(label(who), m)
              return m
            } catch (err) {
              problems.push(`${label(who)}: ${messageOf(err)}`)
              return undefined
            } finally {
              await publisher?.close().catch((err) => problems.push(`${label(who)}: close: ${String(err)}`))
            }
          }
          log(`bench: ${label('throughput')}…`)
          const mosquittoPubM = await measured('mosquitto_pub', () => mosquittoPub(shape), counts.mosquittoPubBatches[batch])
          const plainM = await measured('MQTT.js loop', () => plainLoop(shape), counts.batches[batch])
          const naiveM = matrix.naive ? await measured('naive', () => naive(shape), counts.naiveBatches[batch]) : undefined
          for (const pool of POOLS) {
            const b = await measured(
              `bridge pool ${pool}`,
              () => openBridge(run.bridge, { ...shape, pool, deadLetterDir: run.deadLetterDir }, run.bridgeProblems),
              counts.batches[batch],
            )
            rows.push({
              broker: brokerKind,
              transport: transport.name,
              batch,
              qos,
              version,
              pool,
              ...(b ? { bridge: b } : {}),
              ...(mosquittoPubM ? { mosquittoPub: mosquittoPubM } : {}),
              ...(plainM ? { plain: plainM } : {}),
              ...(naiveM ? { naive: naiveM } : {}),
              ratios: { mosquittoPub: ratio(b, mosquittoPubM), plain: ratio(b, plainM), naive: ratio(b, naiveM) },
            })
          }
        }
      }
    }
  }
  return rows
}
