// Durations as the rules file and the environment write them: an integer and a unit, `500ms`, `90s`,
// `30m`, `24h`, `7d` (docs/rules.md, "Delivery deadlines"; docs/deploying.md, DUPLICATE_WINDOW).

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
export const DURATION = /^([1-9]\d{0,9})(ms|s|m|h|d)$/

export const DAY_MS = UNIT_MS.d

/** The duration in milliseconds, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text)
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined
}

/** A duration as people read it: `90s`, `2m 30s`, `1d 2h`. Whole milliseconds in, largest units first, two at most. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`
  const parts: string[] = []
  let rest = Math.floor(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
    if (parts.length === 2) break
  }
  return parts.join(' ')
}
