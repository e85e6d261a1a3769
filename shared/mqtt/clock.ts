// Time, injected: every timestamp and timer of the pool comes from a Clock, so tests can move time by hand.

/** A handle from setTimeout, setInterval or setImmediate; only the clock that made it reads it. */
export type Timer = object

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): Timer
  clearTimeout(t: Timer | undefined): void
  setInterval(fn: () => void, ms: number): Timer
  clearInterval(t: Timer | undefined): void
  /** Runs `fn` once the I/O being handled now is done (Node's setImmediate: after every packet of a chunk). */
  setImmediate(fn: () => void): Timer
  clearImmediate(t: Timer | undefined): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout | undefined),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (t) => clearImmediate(t as NodeJS.Immediate | undefined),
}
