// One connection to the fleet store, kept in module scope like the MQTT pool and reused by every invocation of
// the warm instance. Every exchange is one pipeline (one write, one round trip), bounded by the invocation's
// deadline; whatever goes wrong becomes a FleetStoreError naming FLEET_REDIS_URL, with secrets masked. No
// reconnect loop runs behind the bridge's back: a connection that failed is dropped, and the next exchange
// opens a new one within its own deadline.
import { isIP } from 'node:net'
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis'
import { FleetStoreError, messageOf } from '../errors.js'
import { redact } from '../logging/secrets.js'
import { type Clock, systemClock } from '../mqtt/clock.js'
import { loadIoredis } from './redis-library.js'
import { CLAIM, RATE, SETTLE } from './scripts.js'
import type { FleetSettings } from './settings.js'

/** The scripts, defined on every client as commands (ioredis sends EVAL once per socket, then EVALSHA). */
const SCRIPTS = { fleetClaim: CLAIM, fleetSettle: SETTLE, fleetRate: RATE } as const
export type ScriptName = keyof typeof SCRIPTS

export interface ScriptCall {
  script: ScriptName
  keys: string[]
  args: Array<string | number>
}

/** A connection silent this long may be dead behind a NAT or a frozen instance: it is pinged first. */
const IDLE_MS = 20_000
/** How long that ping may take before the connection is replaced. */
const PING_MS = 1000
/** The longest a connection attempt may take, whatever the deadline. */
const CONNECT_MS = 10_000

type ScriptCommander = ChainableCommander & Record<ScriptName, (numKeys: number, ...args: Array<string | number>) => ChainableCommander>

export class FleetConnection {
  private client: Redis | undefined
  /** The one check or connection attempt in progress, which every exchange waiting for it shares. */
  private checking: Promise<Redis> | undefined
  private lastAnswer = 0
  /** Exchanges with the store since this connection object was made (connects and pings included). */
  roundTrips = 0

  constructor(
    readonly settings: FleetSettings,
    private readonly clock: Clock = systemClock,
  ) {}

  get url(): string {
    return this.settings.url
  }

  /**
   * Sends the calls in one pipeline and returns their replies, in order; throws FleetStoreError. On a live
   * connection the pipeline is written before this returns, so the store works while the caller goes on.
   */
  run(calls: ScriptCall[], deadline: number, what: string): Promise<unknown[]> {
    const client = this.live()
    return client ? this.exchange(client, calls, deadline, what) : this.ready(deadline).then((c) => this.exchange(c, calls, deadline, what))
  }

  private async exchange(client: Redis, calls: ScriptCall[], deadline: number, what: string): Promise<unknown[]> {
    // Checked before the write, so that "not asked" is true: a call written once the deadline passed would run.
    if (Math.floor(deadline - this.clock.now()) <= 0) throw this.notAsked(what)
    const pipeline = client.pipeline() as ScriptCommander
    for (const c of calls) pipeline[c.script](c.keys.length, ...c.keys, ...c.args)
    const replies = await this.within(pipeline.exec(), deadline, what, true)
    this.lastAnswer = this.clock.now()
    if (replies === null) throw this.fail(what, new Error('the pipeline was discarded'))
    return replies.map(([err, value]) => {
      if (err) throw this.fail(what, err)
      return value
    })
  }

  /** Whether an exchange would be written at once, on a connection that has answered lately. */
  get isLive(): boolean {
    return this.live() !== undefined
  }

  /** The client, when it can be written to now without a check. */
  private live(): Redis | undefined {
    const client = this.client
    // A socket the store closed may still look ready until its close event is read: it is not writable then.
    const usable = client?.status === 'ready' && client.stream.writable && this.clock.now() - this.lastAnswer < IDLE_MS
    return usable ? client : undefined
  }

  /** Opens the connection now (the `initialize` hook), so the first invocation does not pay for it. */
  async warm(deadline: number): Promise<void> {
    await this.ready(deadline)
  }

  /** A connected client, opened or checked within the deadline; one check at a time, shared by its callers. */
  private ready(deadline: number): Promise<Redis> {
    this.checking ??= this.check(deadline).finally(() => {
      this.checking = undefined
    })
    return this.checking
  }

  private async check(deadline: number): Promise<Redis> {
    const client = this.live()
    if (client) return client
    const idle = this.client
    if (idle?.status === 'ready' && idle.stream.writable) {
      try {
        this.roundTrips++
        await this.within(idle.ping(), Math.min(deadline, this.clock.now() + PING_MS), 'answered no PING after sitting idle')
        this.lastAnswer = this.clock.now()
        return idle
      } catch {
        // A silent connection: replaced below, within what is left of the deadline.
        this.drop()
      }
    } else if (idle) this.drop()
    return this.open(deadline)
  }

  private async open(deadline: number): Promise<Redis> {
    const Redis = await loadIoredis()
    const s = this.settings
    const client = new Redis(this.options(Math.max(1, Math.min(CONNECT_MS, deadline - this.clock.now()))))
    // connect() rejects with only "Connection is closed."; the cause (refused, WRONGPASS, TLS) comes as an event.
    let cause: Error | undefined
    client.on('error', (err: Error) => {
      cause ??= err
    })
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua })
    this.client = client
    try {
      this.roundTrips++
      await this.within(
        client.connect().catch((err: unknown) => {
          throw cause ?? err
        }),
        deadline,
        `connecting to ${s.host}:${s.port}`,
      )
      this.lastAnswer = this.clock.now()
      return client
    } catch (err) {
      this.drop()
      throw err
    }
  }

  private options(connectTimeout: number): RedisOptions {
    const s = this.settings
    return {
      host: s.host,
      port: s.port,
      db: s.db,
      ...(s.username !== undefined ? { username: s.username } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...(s.tls
        ? {
            tls: {
              ...(s.tls.ca ? { ca: s.tls.ca } : {}),
              rejectUnauthorized: !s.tls.insecure,
              ...(isIP(s.host) === 0 ? { servername: s.host } : {}),
            },
          }
        : {}),
      lazyConnect: true,
      connectTimeout,
      // Nothing is queued or retried behind the caller's back: a command fails at once when not connected.
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
    }
  }

  /**
   * Waits for `promise` until the deadline; on time-out the connection is dropped (it may be hung). A deadline
   * already passed is "not asked", except for a call already written (`written`): that one may run, so it gets
   * a moment for its answer instead.
   */
  private within<T>(promise: Promise<T>, deadline: number, what: string, written = false): Promise<T> {
    const left = Math.floor(deadline - this.clock.now())
    if (left <= 0 && !written) {
      promise.catch(() => {})
      return Promise.reject(this.notAsked(what))
    }
    const wait = Math.max(1, left)
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.drop()
        reject(new FleetStoreError(this.url, `did not answer within ${wait} ms (${what}); the invocation's deadline came first`))
      }, wait)
      promise.then(
        (value) => {
          this.clock.clearTimeout(timer)
          resolve(value)
        },
        (err: unknown) => {
          this.clock.clearTimeout(timer)
          reject(err instanceof FleetStoreError ? err : this.fail(what, err))
        },
      )
    })
  }

  private notAsked(what: string): FleetStoreError {
    return new FleetStoreError(this.url, `was not asked (${what}): the invocation's deadline has passed`, true)
  }

  private fail(what: string, err: unknown): FleetStoreError {
    const client = this.client
    // A reply error (a script error, NOAUTH) leaves the connection usable; anything else may not have.
    if (client && client.status !== 'ready') this.drop()
    return new FleetStoreError(this.url, `failed (${what}): ${withAdvice(redact(messageOf(err)))}`)
  }

  private drop(): void {
    const client = this.client
    this.client = undefined
    client?.disconnect()
  }

  /** Ends the connection with QUIT, bounded; for preStop and tests. */
  async close(deadline = this.clock.now() + 2000): Promise<void> {
    const client = this.client
    this.client = undefined
    if (client?.status !== 'ready') {
      client?.disconnect()
      return
    }
    try {
      await this.within(client.quit(), deadline, 'QUIT')
    } catch {
      client.disconnect()
    }
  }
}

/**
 * A refusal whose own words do not say what to do, with what to do (docs/deploying.md, "The fleet store"): an
 * Alibaba cluster instance in proxy mode refuses a script whose keys are not literal KEYS[n], though every key
 * of each call here shares one slot.
 */
function withAdvice(message: string): string {
  if (!/bad lua script for redis cluster/i.test(message)) return message
  return `${message} (a cluster instance in proxy mode checks each script's keys; the fleet store keeps every key of a call in one slot: set the instance's parameter script_check_enable to 0, or connect to its direct connection address)`
}
