// RocketMQ tag filters as rules write them: "*" or tags joined by "||".

/** "*" or "TagA||TagB" -> the accepted tags. */
export function tagSet(tags: string): Set<string> | '*' {
  return tags === '*' ? '*' : new Set(tags.split('||'))
}

/** Whether one message could be accepted by both filters. */
export function tagsOverlap(a: string, b: string): boolean {
  return setsOverlap(tagSet(a), tagSet(b))
}

/** tagsOverlap for filters already made sets (comparing many rules, each made once). */
export function setsOverlap(x: Set<string> | '*', y: Set<string> | '*'): boolean {
  if (x === '*' || y === '*') return true
  for (const t of x) if (y.has(t)) return true
  return false
}
