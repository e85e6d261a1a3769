// How a batch is cut for the fleet store's claims (deliver.ts). A chunk is claimed as soon as the bridge has
// planned it, so the store works while the rest is planned and only the last chunk's claim is waited for once
// planning ends. So chunks shrink toward the end of the batch, each half of what is left, down to MIN_CHUNK:
// the last claim is small, and the ones before it are large enough that a script's own cost (an owner record,
// a round trip) stays a small part of it. No chunk is larger than MAX_CHUNK, so no script holds the store long.
export const MAX_CHUNK = 256
export const MIN_CHUNK = 32

/** The sizes of the chunks of a batch of `n` messages, in order. */
export function claimChunks(n: number): number[] {
  const sizes: number[] = []
  for (let left = n; left > 0; ) {
    const size = Math.min(left, MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(left / 2)))
    sizes.push(size)
    left -= size
  }
  return sizes
}
