// "did you mean …?" for misspelt keys and field names: the nearest known word, if it is near enough.

/**
 * Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`, or Infinity once that
 * is certainly over `max`. Three rolling rows: thousands of unknown keys in a hostile body stay cheap.
 */
export function editDistance(a: string, b: string, max = 3): number {
  if (a === b) return 0
  if (Math.abs(a.length - b.length) > max) return Number.POSITIVE_INFINITY
  let before = new Int32Array(b.length + 1)
  let prev = new Int32Array(b.length + 1)
  let row = new Int32Array(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    row[0] = i
    let least = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1)
      row[j] = d
      if (d < least) least = d
    }
    if (least > max) return Number.POSITIVE_INFINITY
    ;[before, prev, row] = [prev, row, before]
  }
  return prev[b.length]!
}

/** The known word nearest to `word`: the same but for case, else within a third of its length (at least 1 edit, at most 3). */
export function nearest(word: string, known: Iterable<string>): string | undefined {
  const lower = word.toLowerCase()
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  let best: string | undefined
  let bestDistance = allowed + 1
  for (const k of known) {
    if (k.toLowerCase() === lower) return k
    const d = editDistance(lower, k.toLowerCase(), allowed)
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}
