// Typed errors. Every message says what was wrong and where, and never carries a secret.

export interface ProblemAt {
  path: string
  message: string
}

/** A bad environment variable. The message names the variable, never a secret value. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(readonly problems: ProblemAt[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`)
  }
}

/** An invalid rule set: all problems at once, each with its path. */
export class RulesError extends Error {
  override name = 'RulesError'
  constructor(
    readonly origin: string,
    readonly problems: ProblemAt[],
  ) {
    super(
      `invalid rules in ${origin} (${problems.length} error${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    )
  }
}

/** Some messages of a batch were not acknowledged for a transient reason: Function Compute must retry. */
export class DeliveryError extends Error {
  override name = 'DeliveryError'
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly reasons: string[],
  ) {
    super(
      `${failed} of ${total} messages not acknowledged by the MQTT broker: ${reasons.join('; ')}. The invocation fails so that Function Compute retries it; messages already delivered by this instance are not published again.`,
    )
  }
}

/** Poison messages could not be handed to the dead-letter target: failing keeps them from being lost. */
export class DeadLetterError extends Error {
  override name = 'DeadLetterError'
  constructor(
    readonly target: string,
    readonly count: number,
    cause: unknown,
  ) {
    super(`could not hand ${count} dead letter${count === 1 ? '' : 's'} to ${target}: ${messageOf(cause)}`, { cause })
  }
}

/** A connection-level MQTT failure: unreachable, refused, timed out, lost. Always transient. */
export class MqttConnectionError extends Error {
  override name = 'MqttConnectionError'
  constructor(
    message: string,
    readonly code?: number | string,
  ) {
    super(message)
  }
}

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
