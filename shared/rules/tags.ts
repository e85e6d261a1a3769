// RocketMQ tag filters as rules write them: "*" or tags joined by "||".

/** "*" or "TagA||TagB" -> the accepted tags. */
export function tagSet(tags: string): Set<string> | '*' {
  return tags === '*' ? '*' : new Set(tags.split('||'))
}

/** tagsOverlap for filters already made sets (comparing many rules, each made once). */
export function setsOverlap(x: Set<string> | '*', y: Set<string> | '*'): boolean {
  if (x === '*' || y === '*') return true
  for (const t of x) if (y.has(t)) return true
  return false
}
