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
  /** Every value this one masks, its parent's too, longest first: a secret inside a longer one never leaves a tail. */
  private sorted: string[] | undefined

  constructor(private readonly parent?: Secrets) {}

  add(value: string | undefined): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return
    this.values.add(value)
    // Log lines are JSON: a secret with a quote, a backslash or a control character appears escaped there.
    const escaped = JSON.stringify(value).slice(1, -1)
    if (escaped !== value) this.values.add(escaped)
    this.sorted = undefined
  }

  /** A redactor that masks these values as well as everything this one masks; this one is unchanged. */
  with(...values: Array<string | undefined>): Secrets {
    const child = new Secrets(this)
    for (const v of values) child.add(v)
    return child
  }

  redact(text: string): string {
    let out = text
    for (const s of this.all()) if (out.includes(s)) out = out.split(s).join('***')
    return out
  }

  private all(): string[] {
    // A parent learns values later (a connection's derived password): its list is read afresh each time.
    const inherited = this.parent ? this.parent.all() : []
    if (this.sorted === undefined || this.sorted.length !== this.values.size + inherited.length) {
      this.sorted = [...inherited, ...this.values].sort((a, b) => b.length - a.length)
    }
    return this.sorted
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
