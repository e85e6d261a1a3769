// Defence in depth: every log line and error message passes through redact(), which masks any secret
// value the process has seen (passwords, access key secrets, STS tokens), wherever it turns up.
const secrets = new Set<string>()

export function registerSecret(value: string | undefined): void {
  // Very short values would mask ordinary words; they are not plausible secrets anyway.
  if (value && value.length >= 4) secrets.add(value)
}

export function redact(text: string): string {
  let out = text
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***')
  return out
}
