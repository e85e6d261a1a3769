// Which connection of the pool carries each message. Within a batch a topic goes to one connection, which
// writes its messages in batch order, so per-topic order holds (docs/reliability.md, "The connection
// pool"). With ordered rules, every message of a message group must go out on one connection as well: the
// topics and groups of a batch that share messages are joined into one set. Each set starts where its first
// topic's name hashes to; then, since a batch ends when its busiest connection is done, sets move from the
// busiest connection to the idlest while that evens the load out. A batch whose topics hash evenly keeps
// every topic where its name puts it, batch after batch.

/** FNV-1a: where a topic starts, so that it mostly keeps its connection from batch to batch. */
export function topicHash(topic: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The connection (0 to `size` - 1) of each message; `groups[i]` is message i's group, if any. */
export function connectionsFor(topics: readonly string[], groups: readonly (string | undefined)[] | undefined, size: number): number[] {
  if (size === 1) return new Array(topics.length).fill(0)
  const sets = groups?.some((g) => g !== undefined) ? joined(topics, groups) : topics
  // One entry per set: its messages and its connection, starting where its first topic hashes to.
  const index = new Map<string, number>()
  const count: number[] = []
  const home: number[] = []
  const setOf = sets.map((key, i) => {
    let k = index.get(key)
    if (k === undefined) {
      k = count.length
      index.set(key, k)
      count.push(0)
      home.push(topicHash(topics[i]!) % size)
    }
    count[k]!++
    return k
  })
  balance(count, home, size)
  return setOf.map((k) => home[k]!)
}

/**
 * Moves sets from the busiest connection to the idlest while one fits: a set of c messages moves when the
 * idlest would still carry less than the busiest did (load + c < busiest), the largest such set first. Each
 * move lowers the sum of the squared loads, so it ends; a set never splits.
 */
function balance(count: number[], home: number[], size: number): void {
  const load = new Array<number>(size).fill(0)
  count.forEach((c, k) => {
    load[home[k]!]! += c
  })
  for (;;) {
    let busiest = 0
    let idlest = 0
    for (let c = 1; c < size; c++) {
      if (load[c]! > load[busiest]!) busiest = c
      if (load[c]! < load[idlest]!) idlest = c
    }
    const room = load[busiest]! - load[idlest]!
    let move = -1
    for (let k = 0; k < count.length; k++)
      if (home[k] === busiest && count[k]! < room && (move === -1 || count[k]! > count[move]!)) move = k
    if (move === -1) return
    home[move] = idlest
    load[busiest]! -= count[move]!
    load[idlest]! += count[move]!
  }
}

/**
 * With message groups: for each message, the key of its set, the topics ("t" + topic) and groups ("g" + group)
 * that share messages joined (union-find). A set is keyed by the first position of the batch it appears at, so
 * the set that appeared first gives the joined set its topic.
 */
function joined(topics: readonly string[], groups: readonly (string | undefined)[]): string[] {
  // Union-find over topics ("t" + topic) and groups ("g" + group); each root keeps the first position of its set.
  const parent = new Map<string, string>()
  const firstAt = new Map<string, number>()
  const find = (x: string): string => {
    let root = x
    while (parent.get(root) !== root) root = parent.get(root)!
    for (let y = x; y !== root; ) {
      const up = parent.get(y)!
      parent.set(y, root)
      y = up
    }
    return root
  }
  const add = (x: string, at: number) => {
    if (parent.has(x)) return
    parent.set(x, x)
    firstAt.set(x, at)
  }
  topics.forEach((t, i) => {
    add(`t${t}`, i)
    const g = groups[i]
    if (g === undefined) return
    add(`g${g}`, i)
    const a = find(`t${t}`)
    const b = find(`g${g}`)
    if (a === b) return
    // The set that appeared first in the batch gives the joined set its topic.
    if (firstAt.get(a)! <= firstAt.get(b)!) parent.set(b, a)
    else parent.set(a, b)
  })
  return topics.map((t) => String(firstAt.get(find(`t${t}`))))
}
