// Every error the project throws on purpose, in one place. Each says what was wrong and where, and never
// carries a secret. `BridgeError` is their base, so a caller can tell ours from anything unexpected.

export interface ProblemAt {
  path: string
  message: string
}

/**
 * What a function that can refuse returns: its value, or why it refused (docs/architecture.md, "Module map").
 * The reason is a sentence for the dead letter or the error it ends up in.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; reason: string }

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })
export const refused = (reason: string): { ok: false; reason: string } => ({ ok: false, reason })

/** The base of every error this project throws on purpose. */
export class BridgeError extends Error {
  override name = 'BridgeError'
}

const lines = (problems: ProblemAt[]) => problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')

/** A bad environment variable. The message names the variable, never a secret value. */
export class ConfigError extends BridgeError {
  override name = 'ConfigError'
  constructor(readonly problems: ProblemAt[]) {
    super(`invalid configuration:\n${lines(problems)}`)
  }
}

/** An invalid rule set: all problems at once, each with its path. */
export class RulesError extends BridgeError {
  override name = 'RulesError'
  constructor(
    readonly origin: string,
    readonly problems: ProblemAt[],
  ) {
    super(`invalid rules in ${origin} (${problems.length} error${problems.length === 1 ? '' : 's'}):\n${lines(problems)}`)
  }
}

/** Some messages of a batch were not delivered for a transient reason (the MQTT broker, or the fleet store): Function Compute must retry. */
export class DeliveryError extends BridgeError {
  override name = 'DeliveryError'
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly reasons: string[],
    /** What became of each entry of the batch (shared/dead-letters/record.ts): the dead-letter function reads it back. */
    ledger = '',
  ) {
    super(
      `${failed} of ${total} messages not delivered: ${reasons.join('; ')}. The invocation fails so that Function Compute retries it; messages already delivered by this instance are not published again.${ledger ? ` ${ledger}` : ''}`,
    )
  }
}

/** Poison messages could not be handed to the dead-letter target: failing keeps them from being lost. */
export class DeadLetterError extends BridgeError {
  override name = 'DeadLetterError'
  constructor(
    readonly target: string,
    readonly count: number,
    cause: unknown,
    /** As DeliveryError's: what became of each entry of the batch. */
    ledger = '',
  ) {
    super(`could not hand ${count} dead letter${count === 1 ? '' : 's'} to ${target}: ${messageOf(cause)}${ledger ? ` ${ledger}` : ''}`, {
      cause,
    })
  }
}

/** The dead-letter function could not store what it received: it throws this, so Function Compute retries. */
export class DeadLetterStoreError extends BridgeError {
  override name = 'DeadLetterStoreError'
  constructor(
    readonly dir: string,
    readonly count: number,
    cause: unknown,
  ) {
    super(
      `could not store ${count} dead letter${count === 1 ? '' : 's'} in ${dir}: ${messageOf(cause)}. The invocation fails so that Function Compute retries it.`,
      { cause },
    )
  }
}

/** A file-system call of the dead-letter store outlived the invocation's remaining time (a hung NAS mount). */
export class FilesystemTimeoutError extends BridgeError {
  override name = 'FilesystemTimeoutError'
  constructor(
    readonly call: string,
    readonly waitedMs: number,
  ) {
    super(`${call} did not finish within the ${waitedMs} ms left before the invocation's deadline (is the file system hung?)`)
  }
}

/** A step of the dead-letter function's timer run failed (after the others ran and were logged). */
export class DeadLetterTimerError extends BridgeError {
  override name = 'DeadLetterTimerError'
  constructor(readonly failures: string[]) {
    super(`the dead-letter timer run failed: ${failures.join('; ')}`)
  }
}

/**
 * The fleet store (Redis or Tair, docs/reliability.md, "Exactly once across the fleet") failed or did not answer:
 * the messages it could not check are not published, and the invocation fails as transient.
 */
export class FleetStoreError extends BridgeError {
  override name = 'FleetStoreError'
  constructor(
    /** The store's URL as configured (never with credentials: FLEET_REDIS_URL refuses them). */
    readonly url: string,
    what: string,
    /** Nothing was sent to the store: the invocation's deadline had passed before the call. */
    readonly notAsked = false,
  ) {
    super(`the fleet store at FLEET_REDIS_URL=${url} ${what}`)
  }
}

/** A connection-level MQTT failure: unreachable, refused, timed out, lost. Always transient. */
export class MqttConnectionError extends BridgeError {
  override name = 'MqttConnectionError'
  constructor(
    message: string,
    readonly code?: number | string,
  ) {
    super(message)
  }
}

/** The broker refused MQTT 5 (or closed before CONNACK): with MQTT_PROTOCOL_VERSION=auto, 3.1.1 is tried next. */
export class ProtocolRefusedError extends MqttConnectionError {
  override name = 'ProtocolRefusedError'
}

/** A Function Compute invocation was refused (signature, size, unknown function) or the function threw. */
export class FcInvokeError extends BridgeError {
  override name = 'FcInvokeError'
  constructor(
    message: string,
    readonly functionError?: string,
  ) {
    super(message)
  }
}

/** The event is not an HTTP trigger event, or its body is larger than allowed. */
export class HttpEventError extends BridgeError {
  override name = 'HttpEventError'
  constructor(
    readonly statusCode: 400 | 413,
    message: string,
  ) {
    super(message)
  }
}

/** s.yaml cannot be read as a Serverless Devs file with the project's functions in it. */
export class SYamlError extends BridgeError {
  override name = 'SYamlError'
}

/** A port that is taken; the message names the port and the flag that changes it. */
export class PortInUseError extends BridgeError {
  override name = 'PortInUseError'
  constructor(
    readonly port: number,
    what: string,
    flag: string,
  ) {
    super(
      `port ${port} (${what}) is already in use on 127.0.0.1. Stop whatever holds it, or choose another port with ${flag} <port> (0 picks any free port).`,
    )
  }
}

/** The local invoke server refuses a request, with Function Compute's status and error code. */
export class InvokeRefusal extends BridgeError {
  override name = 'InvokeRefusal'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/** `['rules', 2, 'target', 'parentTopic']` -> `rules[2].target.parentTopic`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out === '' ? '(root)' : out
}
