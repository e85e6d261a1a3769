// How a batch is cut for the fleet store. The claims of chunk k+1 travel while chunk k is being published, so
// only the first chunk's claim waits in front of the broker: it is small, and each chunk after it is larger
// (claiming a message costs the store about a tenth of what publishing it costs). No chunk is much larger than
// MAX_CHUNK, so one script never holds the store for long.
const FIRST_CHUNK = 64
const GROWTH = 4
export const MAX_CHUNK = 1024

/** [start, end) of each chunk of a batch of `n`; with `multiple`, every chunk but the last holds a multiple of it. */
export function claimChunks(n: number, multiple = 1): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let size = FIRST_CHUNK
  for (let start = 0; start < n; size = Math.min(MAX_CHUNK, size * GROWTH)) {
    const rounded = Math.ceil(size / multiple) * multiple
    out.push([start, Math.min(n, start + rounded)])
    start += rounded
  }
  return out
}
