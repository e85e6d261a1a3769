// The bridge across round trips: the latency proxy (latency-proxy.ts) between publishers and the broker, at
// 0, 2 and 20 ms on Mosquitto's defaults and at 20 ms on the no-delay broker. QoS 1 over MQTT 5: batches of
// the bridge at pool 1 and 4 against what its window allows (the broker's receive maximum × connections /
// round trip) and against `mosquitto_pub -M 20` through the same proxy; and, at 2 ms, single messages end to
// end (hand-over until the subscriber has it). The subscriber is on the broker directly.
import { connect, type IConnackPacket } from 'mqtt'
import { messageOf } from '../../shared/errors.js'
import { type BridgeModule, openBridge } from './bridge.js'
import type { BenchBroker } from './broker.js'
import type { Deliveries } from './deliveries.js'
import { startLatencyProxy } from './latency-proxy.js'
import { type Measurement, measure } from './measure.js'
import type { BenchQos } from './messages.js'
import type { Publisher, ScenarioShape } from './publishers.js'
import { mosquittoPub, plainLoop } from './references.js'
import { type BrokerKind, type LatencyRow, ratio, type SingleRow } from './report.js'

export interface NetworkCounts {
  /** The batch size of the throughput runs, and how many are measured (after one warm-up). */
  batch: number
  batches: number
  /** Single-message invocations measured at 2 ms (after 20 warm-up ones). */
  singles: number
}

export interface NetworkRun {
  bridge: BridgeModule
  brokers: Array<{ kind: BrokerKind; broker: BenchBroker; deliveries: Deliveries; rtts: number[] }>
  deadLetterDir: string
  counts: NetworkCounts
  problems: string[]
  bridgeProblems: string[]
  count: (scenario: string, m: Measurement) => void
  log: (line: string) => void
}

export const ROUND_TRIPS_MS = [0, 2, 20]
/** The round trip of the single-message latency. */
export const SINGLE_RTT_MS = 2

/** The receive maximum the broker announces to an MQTT 5 client (65535 when it announces none). */
async function receiveMaximum(url: string): Promise<number> {
  const client = connect(url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `bench-probe-${process.pid}` })
  try {
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
    })
    return connack.properties?.receiveMaximum ?? 65535
  } finally {
    await client.endAsync()
  }
}

export async function runNetwork(run: NetworkRun): Promise<{ rows: LatencyRow[]; singles: SingleRow[] }> {
  const { counts, problems, count, log } = run
  const rows: LatencyRow[] = []
  const singles: SingleRow[] = []
  for (const { kind, broker, deliveries, rtts } of run.brokers) {
    const rm = await receiveMaximum(broker.url)
    for (const rttMs of rtts) {
      const proxy = await startLatencyProxy({ host: '127.0.0.1', port: broker.port }, { rttMs })
      try {
        const shape = (qos: BenchQos): ScenarioShape => ({ url: proxy.url, qos, version: 5 })
        const label = (who: string, batch: number, qos: BenchQos) =>
          `${who}, ${kind} broker, ${rttMs} ms round trip, batch ${batch}, QoS ${qos}, MQTT 5`
        const measured = async (who: string, open: () => Publisher | Promise<Publisher>, batch: number, batches: number, qos: BenchQos) => {
          let publisher: Publisher | undefined
          try {
            publisher = await open()
            const m = await measure(publisher, deliveries, batch, batches, batch === 1 ? 20 : 1)
            count(label(who, batch, qos), m)
            return m
          } catch (err) {
            problems.push(`${label(who, batch, qos)}: ${messageOf(err)}`)
            return undefined
          } finally {
            await publisher?.close().catch((err) => problems.push(`${label(who, batch, qos)}: close: ${String(err)}`))
          }
        }
        const bridgeOf = (pool: number, qos: BenchQos) => () =>
          openBridge(run.bridge, { ...shape(qos), pool, deadLetterDir: run.deadLetterDir }, run.bridgeProblems)
        log(`bench: ${label('network', counts.batch, 1)}…`)
        const ref = await measured('mosquitto_pub -M 20', () => mosquittoPub(shape(1)), counts.batch, counts.batches, 1)
        for (const pool of [1, 4]) {
          const b = await measured(`bridge pool ${pool}`, bridgeOf(pool, 1), counts.batch, counts.batches, 1)
          const ceiling = rttMs > 0 ? Math.round((rm * pool * 1000) / rttMs) : undefined
          rows.push({
            broker: kind,
            rttMs,
            pool,
            batch: counts.batch,
            receiveMaximum: rm,
            ...(b ? { bridge: b } : {}),
            ...(ref ? { mosquittoPub: ref } : {}),
            ...(ceiling !== undefined ? { ceiling } : {}),
            ...(ceiling !== undefined && b ? { ofCeiling: Math.round((b.messagesPerSecond / ceiling) * 100) / 100 } : {}),
            ratios: { mosquittoPub: ratio(b, ref) },
          })
        }
        if (rttMs === SINGLE_RTT_MS && kind === 'default') {
          for (const qos of [0, 1] as const) {
            const b = await measured('bridge pool 1', bridgeOf(1, qos), 1, counts.singles, qos)
            if (b) singles.push({ broker: kind, rttMs, qos, who: 'bridge pool 1', endToEndMs: b.endToEndMs, callMs: b.callMs })
            const loop = await measured('MQTT.js loop', () => plainLoop(shape(qos)), 1, counts.singles, qos)
            if (loop) singles.push({ broker: kind, rttMs, qos, who: 'MQTT.js loop', endToEndMs: loop.endToEndMs, callMs: loop.callMs })
          }
        }
      } finally {
        await proxy.close()
      }
    }
  }
  return { rows, singles }
}
