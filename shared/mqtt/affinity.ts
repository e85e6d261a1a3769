// Which connection of the pool carries each message. Within a batch a topic goes to one connection, which
// writes its messages in batch order, so per-topic order holds (docs/reliability.md, "The connection
// pool"). With ordered rules, every message of a message group must go out on one connection as well: the
// topics and groups of a batch that share messages are joined, and each such set goes where its first
// message's topic goes, which may differ from batch to batch. Without groups that is exactly the topic's
// own connection, the same in every batch.

/** FNV-1a: stable topic -> connection affinity, so per-topic order is kept. */
export function topicHash(topic: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) h = Math.imul(h ^ topic.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** The connection (0 to `size` - 1) of each message; `groups[i]` is message i's group, if any. */
export function connectionsFor(topics: readonly string[], groups: readonly (string | undefined)[] | undefined, size: number): number[] {
  if (size === 1) return new Array(topics.length).fill(0)
  if (!groups?.some((g) => g !== undefined)) return topics.map((t) => topicHash(t) % size)
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
  return topics.map((t) => topicHash(topics[firstAt.get(find(`t${t}`))!]!) % size)
}
