// Test doubles for the pool: a clock moved by hand, a client that records each publish and is acknowledged,
// refused, closed or broken at the test's word (and answers PINGREQs as it answers publishes), a broker whose
// connect() hands out such clients, and a logger that keeps lines.
import { EventEmitter } from 'node:events'
import type { IClientOptions, IClientPublishOptions, MqttClient, Packet } from 'mqtt'
import type { LogFields, Logger } from '../../../shared/logging/logger.js'
import type { Publish, QoS } from '../../../shared/mapping/publish.js'
import type { Clock, Timer } from '../../../shared/mqtt/clock.js'
import type { CodedError } from '../../../shared/mqtt/failure-kind.js'
import { DELIVERED, type PassResult, type PublishOutcome, type PublishResult } from '../../../shared/mqtt/outcome.js'
import { MQTT_MAX_PACKET_BYTES } from '../../../shared/mqtt/packet-size.js'
import { MqttPool, type PoolOptions } from '../../../shared/mqtt/pool.js'
import { transmit } from '../../../shared/mqtt/publish-window.js'
import type { WindowOptions } from '../../../shared/mqtt/window-client.js'

interface FakeTimer {
  id: number
  at: number
  fn: () => void
  every: number | undefined
}

export class FakeClock implements Clock {
  private t: number
  private seq = 0
  private readonly timers = new Map<number, FakeTimer>()

  constructor(start = 1_700_000_000_000) {
    this.t = start
  }

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, undefined)
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms))
  }

  clearTimeout(t: Timer | undefined): void {
    if (t) this.timers.delete((t as { id: number }).id)
  }

  clearInterval(t: Timer | undefined): void {
    this.clearTimeout(t)
  }

  /** A timer due now: it runs on the next advance(), even advance(0). */
  setImmediate(fn: () => void): Timer {
    return this.add(fn, 0, undefined)
  }

  clearImmediate(t: Timer | undefined): void {
    this.clearTimeout(t)
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size
  }

  /** Moves time forward, firing each timer as it falls due (earliest first, then in the order set), at its own time. */
  advance(ms: number): void {
    const until = this.t + ms
    for (;;) {
      let first: FakeTimer | undefined
      for (const timer of this.timers.values()) if (timer.at <= until && (!first || timer.at < first.at)) first = timer
      if (!first) break
      this.t = first.at
      if (first.every === undefined) this.timers.delete(first.id)
      else first.at += first.every
      first.fn()
    }
    this.t = until
  }

  private add(fn: () => void, ms: number, every: number | undefined): Timer {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn, every }
    this.timers.set(timer.id, timer)
    return { id: timer.id }
  }
}

export interface Sent {
  topic: string
  payload: string
  opts: IClientPublishOptions
  /** Clock time of the publish() call. */
  at: number
  acked: boolean
  messageId: number
  cb: (err?: CodedError, packet?: Packet) => void
}

/** How a client answers publishes: not at all until told, inside publish() itself, or on the next turn of the event loop. */
export type AckMode = 'manual' | 'sync' | 'async'

export class FakeClient extends EventEmitter {
  connected = false
  disconnecting = false
  ended = false
  readonly sent: Sent[] = []
  /** The most publishes unacknowledged at once. */
  maxUnacked = 0
  /** How deeply publish() calls were nested (a synchronous callback that publishes again nests them). */
  maxDepth = 0
  private depth = 0
  private nextId = 1
  /** Writes to the socket: one per publish() or PINGREQ while it is not corked, one per uncork that releases any. */
  socketWrites = 0
  private corkedWrites = 0
  readonly stream = {
    noDelay: false,
    destroyed: false,
    corked: 0,
    setNoDelay: (v: boolean) => (this.stream.noDelay = v),
    cork: () => {
      this.stream.corked++
    },
    uncork: () => {
      if (this.stream.corked === 0) return
      this.stream.corked--
      if (this.stream.corked === 0 && this.corkedWrites > 0) {
        this.socketWrites++
        this.corkedWrites = 0
      }
    },
    /** The socket cut: the broker sees the client drop, without DISCONNECT. */
    destroy: () => {
      this.stream.destroyed = true
      this.drop()
    },
  }
  /** A graceful end(false) waiting, as MQTT.js's does, for the acknowledgements in flight. */
  private ending: (() => void) | undefined
  /** Whether the client ended with DISCONNECT (end() completed without force), rather than being cut. */
  disconnected = false
  /** PINGREQs sent, and those not answered yet (in 'manual' mode, until pong()). */
  pings = 0
  private unanswered = 0
  /** Answer QoS 2 publishes with PUBACK, as a broker without QoS 2 (RabbitMQ) does. */
  qos2AsPuback = false

  constructor(
    readonly opts: IClientOptions,
    private readonly clock: Clock,
    public ackMode: AckMode,
  ) {
    super()
  }

  get unacked(): Sent[] {
    return this.sent.filter((s) => !s.acked)
  }

  publish(topic: string, payload: Buffer, opts: IClientPublishOptions, cb: (err?: CodedError, packet?: Packet) => void): this {
    this.depth++
    this.maxDepth = Math.max(this.maxDepth, this.depth)
    const qos = opts.qos ?? 0
    const messageId = qos > 0 ? this.nextId++ : 0
    const s: Sent = { topic, payload: payload.toString(), opts, at: this.clock.now(), acked: false, messageId, cb }
    this.sent.push(s)
    if (this.stream.corked > 0) this.corkedWrites++
    else this.socketWrites++
    this.emit('packetsend', { cmd: 'publish', qos, messageId, topic })
    this.maxUnacked = Math.max(this.maxUnacked, this.unacked.length)
    if (this.ackMode === 'sync') this.ack(s)
    else if (this.ackMode === 'async') setImmediate(() => this.connected && this.ack(s))
    this.depth--
    return this
  }

  /**
   * Acknowledges one publish (the oldest unacknowledged by default), with an error when given: the PUBACK, or
   * PUBREC and PUBCOMP, as MQTT.js sees them arrive; for QoS 0, the write callback. With an error, MQTT.js
   * hands the acknowledgement to the callback too, and `reasonString` is in its properties.
   */
  ack(s: Sent | undefined = this.unacked[0], err?: CodedError, reasonString?: string): void {
    if (!s || s.acked) return
    s.acked = true
    const qos = s.opts.qos ?? 0
    if (qos === 1 || (qos === 2 && this.qos2AsPuback)) this.emit('packetreceive', { cmd: 'puback', messageId: s.messageId })
    else if (qos === 2) {
      this.emit('packetreceive', { cmd: 'pubrec', messageId: s.messageId })
      this.emit('packetreceive', { cmd: 'pubcomp', messageId: s.messageId })
    }
    const code = err?.code
    const packet =
      err && qos > 0
        ? ({ cmd: 'puback', messageId: s.messageId, reasonCode: code, ...(reasonString ? { properties: { reasonString } } : {}) } as Packet)
        : undefined
    s.cb(err, packet)
    if (this.ending && this.unacked.length === 0) this.ending()
  }

  sendPing(): void {
    this.pings++
    this.unanswered++
    if (this.stream.corked > 0) this.corkedWrites++
    else this.socketWrites++
    this.emit('packetsend', { cmd: 'pingreq' })
    if (this.ackMode === 'sync') this.pong()
    else if (this.ackMode === 'async') setImmediate(() => this.connected && this.pong())
  }

  /** The broker answers the oldest PINGREQ. */
  pong(): void {
    if (this.unanswered === 0) return
    this.unanswered--
    this.emit('packetreceive', { cmd: 'pingresp' })
  }

  /** MQTT.js emits an error (a packet it cannot parse, a socket error), as it does before it closes. */
  fail(message: string, code?: string | number): void {
    this.emit('error', Object.assign(new Error(message), code === undefined ? {} : { code }))
  }

  /** An MQTT 5 broker's DISCONNECT with a reason code (and string), then the close. */
  disconnectWith(reasonCode: number, reasonString?: string): void {
    this.emit('disconnect', { cmd: 'disconnect', reasonCode, ...(reasonString ? { properties: { reasonString } } : {}) })
    this.drop()
  }

  ackAll(): void {
    for (const s of this.unacked) this.ack(s)
  }

  /** The broker answers with a PUBACK/PUBREC reason code >= 0x80 (and its reason string), or an error without a code. */
  refuse(s: Sent, code: number | undefined, message = 'Publish error', reasonString?: string): void {
    this.ack(s, code === undefined ? new Error(message) : Object.assign(new Error(message), { code }), reasonString)
  }

  /** The connection is lost (the broker went away). */
  drop(): void {
    if (!this.connected) return
    this.connected = false
    this.emit('close')
  }

  /** end(force?, opts?, cb?): forced at once; otherwise, as MQTT.js, once nothing is unacknowledged. */
  end(...args: unknown[]): this {
    const force = args[0] === true
    const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined
    const finish = () => {
      this.ending = undefined
      this.ended = true
      if (!force) this.disconnected = this.connected
      const was = this.connected
      this.connected = false
      if (was) queueMicrotask(() => this.emit('close'))
      if (cb) queueMicrotask(cb)
    }
    if (!force && this.connected && this.unacked.length > 0) this.ending = finish
    else finish()
    return this
  }
}

export interface BrokerBehaviour {
  /** CONNACK's receive maximum, maximum packet size and server keepalive (MQTT 5 only). */
  receiveMaximum?: number
  maximumPacketSize?: number
  serverKeepAlive?: number
  /** Refuse MQTT 5 with reason code 0x84, as a 3.1.1-only broker does. */
  refuseV5?: boolean
  /** Never answer CONNECT. */
  silent?: boolean
  /** Refuse every CONNECT with this error. */
  refuseWith?: CodedError
  ackMode?: AckMode
  /**
   * A message the broker will not take: when a client publishes this payload, it drops the connection, after
   * an MQTT 5 DISCONNECT with `disconnect` as reason code, or after MQTT.js raised `error` (the next microtask).
   */
  poison?: { payload: string } & Drop
  /**
   * A broker that drops connections for its own reasons: called with each PUBLISH as the broker reads it and
   * how many it has read (from 1, across connections); a Drop closes the connection on it, as `poison` does.
   */
  drops?: (payload: string, read: number) => Drop | undefined
}

/** How the broker closes a connection: after an MQTT 5 DISCONNECT with this reason code (and string), or after an MQTT.js error, or bare. */
export interface Drop {
  disconnect?: number
  reasonString?: string
  error?: string
}

/** Hands out fake clients; each gets its CONNACK on the next microtask, as the behaviour says. */
export class FakeBroker {
  readonly clients: FakeClient[] = []
  /** PUBLISH packets read, across connections. */
  read = 0

  constructor(
    private readonly clock: Clock,
    public behaviour: BrokerBehaviour = {},
  ) {}

  readonly connect = (_url: string, opts: IClientOptions): MqttClient => {
    const client = new FakeClient(opts, this.clock, this.behaviour.ackMode ?? 'manual')
    this.clients.push(client)
    const b = this.behaviour
    let dropping = false
    client.on('packetsend', (packet: { cmd: string }) => {
      const s = client.sent.at(-1)
      // What is written after the packet the broker closes on is never read.
      if (packet.cmd !== 'publish' || !s || s.acked || dropping) return
      this.read++
      const poison = this.behaviour.poison
      const drop = poison && s.payload === poison.payload ? poison : this.behaviour.drops?.(s.payload, this.read)
      if (!drop) return
      s.acked = true
      dropping = true
      queueMicrotask(() => {
        if (drop.error) client.fail(drop.error)
        if (drop.disconnect !== undefined) client.disconnectWith(drop.disconnect, drop.reasonString)
        else client.drop()
      })
    })
    queueMicrotask(() => {
      if (b.silent) return
      if (b.refuseWith) return client.emit('error', b.refuseWith)
      if (opts.protocolVersion === 5 && b.refuseV5)
        return client.emit('error', Object.assign(new Error('Connection refused: Unsupported protocol version'), { code: 0x84 }))
      client.connected = true
      const properties = {
        ...(b.receiveMaximum !== undefined ? { receiveMaximum: b.receiveMaximum } : {}),
        ...(b.maximumPacketSize !== undefined ? { maximumPacketSize: b.maximumPacketSize } : {}),
        ...(b.serverKeepAlive !== undefined ? { serverKeepAlive: b.serverKeepAlive } : {}),
      }
      const v5 = opts.protocolVersion === 5 && Object.keys(properties).length > 0
      client.emit('connect', { cmd: 'connack', sessionPresent: false, returnCode: 0, ...(v5 ? { properties } : {}) })
    })
    return client as unknown as MqttClient
  }

  get last(): FakeClient {
    const c = this.clients.at(-1)
    if (!c) throw new Error('no client connected yet')
    return c
  }
}

export class TestLog implements Logger {
  readonly lines: Array<{ level: string } & LogFields> = []

  debug(fields: LogFields): void {
    this.lines.push({ level: 'debug', ...fields })
  }

  info(fields: LogFields): void {
    this.lines.push({ level: 'info', ...fields })
  }

  warn(fields: LogFields): void {
    this.lines.push({ level: 'warn', ...fields })
  }

  error(fields: LogFields): void {
    this.lines.push({ level: 'error', ...fields })
  }

  events(name: string): Array<{ level: string } & LogFields> {
    return this.lines.filter((l) => l.event === name)
  }
}

/** Lets every pending microtask and immediate run (fake clients answer on those, never on the clock). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r))
}

export function publishes(count: number, over: { tag?: string; topics?: number; qos?: QoS; properties?: boolean } = {}): Publish[] {
  const { tag = 'm', topics = 1, qos = 1, properties = false } = over
  return Array.from({ length: count }, (_, i) => ({
    ruleId: 'r',
    index: i,
    topic: `devices/${tag}/t${i % topics}`,
    qos,
    retain: false,
    payload: Buffer.from(`${tag}-${i}`),
    ...(properties ? { properties: { contentType: 'text/plain', userProperties: { n: String(i) } } } : {}),
  }))
}

export interface FakePool {
  clock: FakeClock
  broker: FakeBroker
  pool: MqttPool
  log: TestLog
  /** A deadline a minute away on the fake clock: far enough that only the tests that mean to reach it do. */
  deadline(): number
}

/** A pool on a fake broker and a fake clock: one connection, MQTT_PROTOCOL_VERSION=auto, a 10 s acknowledgement timeout. */
export function fakePool(behaviour: BrokerBehaviour = {}, options: Partial<PoolOptions> = {}): FakePool {
  const clock = new FakeClock()
  const broker = new FakeBroker(clock, behaviour)
  const pool = new MqttPool({
    url: 'mqtt://broker.test:1883',
    protocol: 'auto',
    auth: { kind: 'none' },
    clientIdPrefix: 'GID_unit',
    size: 1,
    publishTimeoutMs: 10_000,
    instanceToken: 'token00000',
    connect: broker.connect,
    clock,
    ...options,
  })
  return { clock, broker, pool, log: new TestLog(), deadline: () => clock.now() + 60_000 }
}

export function kinds(r: PublishResult): string[] {
  return r.outcomes.map((o) => o.kind)
}

/** The reason of a failed or refused outcome; fails the test on "delivered". */
export function reasonOf(o: PublishOutcome | undefined): string {
  if (!o || o.kind === 'delivered' || o.kind === 'expired') throw new Error(`expected a failure, got ${JSON.stringify(o)}`)
  return o.reason
}

export interface WindowPass {
  clock: FakeClock
  client: FakeClient
  outcomes: PublishOutcome[]
  /** Set once the pass has resolved. */
  result: () => PassResult | undefined
  done: Promise<PassResult>
  /** The payloads handed to the client, in the order they were written. */
  written: () => string[]
  find: (payload: string) => Sent | undefined
}

/** One pass of the publish window over `items` (or the given indices) on a connected fake client. */
export function windowPass(
  items: Publish[],
  ackMode: AckMode = 'manual',
  over: Partial<WindowOptions> & { deadlineIn?: number; indices?: number[]; clock?: FakeClock } = {},
): WindowPass {
  const { deadlineIn = 60_000, indices = items.map((_, i) => i), clock = new FakeClock(), ...options } = over
  const client = new FakeClient({}, clock, ackMode)
  client.connected = true
  const outcomes: PublishOutcome[] = new Array(items.length).fill(DELIVERED)
  let result: PassResult | undefined
  const done = transmit(client, items, indices, outcomes, clock.now() + deadlineIn, {
    clock,
    maxInFlight: 20,
    v5: true,
    publishTimeoutMs: 10_000,
    packetLimit: { bytes: MQTT_MAX_PACKET_BYTES, source: 'what MQTT can encode' },
    safeUrl: 'mqtt://broker.test:1883',
    ...options,
  })
  done.then((r) => {
    result = r
  })
  return {
    clock,
    client,
    outcomes,
    result: () => result,
    done,
    written: () => client.sent.map((s) => s.payload),
    find: (payload) => client.sent.find((s) => s.payload === payload),
  }
}
