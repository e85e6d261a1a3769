// A pool of MQTT connections that lives in module scope and outlives invocations. Within a batch a topic goes
// to one connection (affinity.ts, connection.ts), which writes its messages in batch order with a bounded number in flight
// (publish-window.ts). The pool splits a batch among its connections and puts the outcomes back in order.
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { messageOf } from '../errors.js'
import type { Logger } from '../logging/logger.js'
import { redact } from '../logging/secrets.js'
import type { Publish } from '../mapping/publish.js'
import { connectionsFor } from './affinity.js'
import type { MqttAuth } from './auth.js'
import { clientId, instanceToken } from './client-id.js'
import { type Clock, systemClock } from './clock.js'
import { Connection } from './connection.js'
import { MAX_IN_FLIGHT } from './negotiate.js'
import { DELIVERED, type PublishOutcome, type PublishResult } from './outcome.js'
import { MQTT_MAX_PACKET_BYTES } from './packet-size.js'
import { ProtocolChoice } from './protocol-choice.js'
import { AcceptanceEvidence, acceptedIn, judgeWideRefusals } from './wide-refusals.js'

export { topicHash } from './affinity.js'
export type { PublishOutcome, PublishResult } from './outcome.js'

export interface PoolOptions {
  url: string
  protocol: 4 | 5 | 'auto'
  auth: MqttAuth
  clientIdPrefix: string
  size: number
  publishTimeoutMs: number
  /** MQTT_MAX_IN_FLIGHT (20 by default); on MQTT 5 the window is the lower of it and the broker's receive maximum. */
  maxInFlight?: number
  /**
   * MQTT_MAX_PACKET_SIZE, or its default for the rules' profile, and how to name it in a reason; on MQTT 5
   * lowered to the maximum packet size in the broker's CONNACK. What MQTT can encode when not given.
   */
  maxPacketSize?: { bytes: number; source: string }
  /** Messages per second per connection; 0 = unlimited. */
  rateLimit?: number
  /** TLS trust for mqtts:// and wss://: a CA bundle, and whether to skip verification. */
  tls?: { ca?: Buffer; insecure?: boolean }
  /** Unique per instance; random by default so that concurrent instances never share a client ID. */
  instanceToken?: string
  /** MQTT.js's connect by default; tests pass a fake broker's. */
  connect?: (url: string, opts: IClientOptions) => MqttClient
  /** The system clock by default; tests pass one they move by hand. */
  clock?: Clock
}

export class MqttPool {
  private readonly connections: Connection[]
  private readonly choice: ProtocolChoice
  readonly safeUrl: string
  private readonly clock: Clock
  /** When the broker last took a QoS 1 or 2 publish of this pool: what makes a 0x87 the message's fault (wide-refusals.ts). */
  private readonly acceptance: AcceptanceEvidence
  connectionsOpened = 0

  constructor(readonly options: PoolOptions) {
    const token = options.instanceToken ?? instanceToken()
    const url = new URL(options.url)
    this.safeUrl = `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
    this.choice = new ProtocolChoice(options.protocol, this.safeUrl)
    this.clock = options.clock ?? systemClock
    this.acceptance = new AcceptanceEvidence(this.clock)
    const settings = {
      url: options.url,
      safeUrl: this.safeUrl,
      auth: options.auth,
      publishTimeoutMs: options.publishTimeoutMs,
      maxInFlight: options.maxInFlight ?? MAX_IN_FLIGHT,
      packetLimit: options.maxPacketSize ?? { bytes: MQTT_MAX_PACKET_BYTES, source: 'the most MQTT can encode' },
      rateLimit: options.rateLimit,
      tls: options.tls,
      choice: this.choice,
      connect: options.connect ?? connect,
      clock: this.clock,
      acceptance: this.acceptance,
      opened: () => {
        this.connectionsOpened++
      },
    }
    this.connections = Array.from({ length: options.size }, (_, i) => new Connection(settings, clientId(options.clientIdPrefix, token, i)))
  }

  get clientIds(): string[] {
    return this.connections.map((c) => c.clientId)
  }

  /** The protocol version in use, once a connection has been made (decided once per pool with `auto`). */
  get protocolVersion(): 4 | 5 | undefined {
    return this.choice.version
  }

  /** Opens every connection (for `initialize`). Failures are logged, not thrown: the invocation retries. */
  async warm(deadline: number, log: Logger): Promise<void> {
    await Promise.all(
      this.connections.map(async (c) => {
        try {
          await c.ensure(deadline, log)
        } catch (err) {
          log.warn({ event: 'mqtt.connect-failed', clientId: c.clientId, reason: redact(messageOf(err)) })
        }
      }),
    )
  }

  /**
   * One outcome per item, in the order given; events of this call go to `log`. `groups[i]`, with ordered
   * rules, is item i's message group: a group goes out on one connection with one message in flight.
   */
  async publish(items: Publish[], deadline: number, log: Logger, groups?: readonly (string | undefined)[]): Promise<PublishResult> {
    const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
    const shares: Publish[][] = this.connections.map(() => [])
    const shareGroups: (string | undefined)[][] = this.connections.map(() => [])
    const positions: number[][] = this.connections.map(() => [])
    const ordered = groups?.some((g) => g !== undefined) === true
    const where = connectionsFor(
      items.map((p) => p.topic),
      ordered ? groups : undefined,
      this.connections.length,
    )
    items.forEach((p, i) => {
      const c = where[i]!
      shares[c]!.push(p)
      positions[c]!.push(i)
      if (ordered) shareGroups[c]!.push(groups![i])
    })
    let dropped = 0
    // Settled one by one: a connection whose send throws (a bug) must not take the others' outcomes with it,
    // or the invocation's record would lose what they delivered and the retry would publish it again.
    const sent = await Promise.allSettled(
      this.connections.map(async (conn, c) =>
        shares[c]!.length === 0 ? undefined : conn.send(shares[c]!, deadline, log, ordered ? shareGroups[c] : undefined),
      ),
    )
    sent.forEach((s, c) => {
      if (s.status === 'fulfilled') {
        if (!s.value) return
        dropped += s.value.droppedV5Properties
        s.value.outcomes.forEach((o, k) => {
          outcomes[positions[c]![k]!] = o
        })
        return
      }
      const reason = redact(
        `publishing on connection ${this.connections[c]!.clientId} to the MQTT broker at ${this.safeUrl} failed unexpectedly (a bug: please report it): ${messageOf(s.reason)}`,
      )
      log.error({
        event: 'mqtt.send-failed',
        clientId: this.connections[c]!.clientId,
        url: this.safeUrl,
        failed: positions[c]!.length,
        reason,
      })
      for (const i of positions[c]!) outcomes[i] = { kind: 'failed', reason }
    })
    this.judge(items, outcomes, ordered ? groups : undefined, log)
    return { outcomes, droppedV5Properties: dropped }
  }

  /**
   * A refusal that can answer everything the bridge sends (0x87, 0x83) is the message's fault only with evidence
   * that the broker takes this bridge's publishes; without it, the invocation fails as transient (wide-refusals.ts).
   */
  private judge(items: Publish[], outcomes: PublishOutcome[], groups: readonly (string | undefined)[] | undefined, log: Logger): void {
    // The acknowledgement ledger records each acceptance as it comes; this call's count however long it took.
    const evidence = acceptedIn(items, outcomes) || this.acceptance.recent
    const verdict = judgeWideRefusals(items, outcomes, groups, evidence)
    if (!verdict) return
    log.warn({ event: 'mqtt.broker-trouble', url: this.safeUrl, verdict: 'transient', failed: verdict.failed, why: verdict.why })
  }

  /** Ends every connection with DISCONNECT; at `deadline` the ones still waiting for acknowledgements are cut. */
  async close(deadline = this.clock.now() + this.options.publishTimeoutMs): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close(deadline)))
  }
}
