// Defence in depth: every log line and error message passes through a redactor, which masks any secret
// value it knows (passwords, access key secrets, STS tokens), wherever it turns up.
//
// The process's own secrets (from the environment) are registered once, at start-up. An invocation's STS
// credentials rotate, so they are never added to that process-wide set (it would grow for the life of
// the instance and be scanned on every line): each invocation gets a child that masks them too.

/** Very short values would mask ordinary words; they are not plausible secrets anyway. */
const MIN_SECRET_LENGTH = 4

export class Secrets {
  private readonly values = new Set<string>()

  constructor(private readonly parent?: Secrets) {}

  add(value: string | undefined): void {
    if (value && value.length >= MIN_SECRET_LENGTH) this.values.add(value)
  }

  /** A redactor that masks these values as well as everything this one masks; this one is unchanged. */
  with(...values: Array<string | undefined>): Secrets {
    const child = new Secrets(this)
    for (const v of values) child.add(v)
    return child
  }

  redact(text: string): string {
    let out = this.parent ? this.parent.redact(text) : text
    for (const s of this.values) if (out.includes(s)) out = out.split(s).join('***')
    return out
  }
}

/** The process's secrets: the environment's credentials and the MQTT passwords derived from them. */
export const processSecrets = new Secrets()

export function registerSecret(value: string | undefined): void {
  processSecrets.add(value)
}

export function redact(text: string): string {
  return processSecrets.redact(text)
}
