// The redrive lease (<dir>/redrive.lease): one run at a time sends stored entries to the bridge, be it
// the timer's redrive or npm run replay. A lease is one small JSON file, {holder, until}, never written in
// place: it is created whole (publishExclusive: a temporary file linked into place, which fails if one is
// there), and one past its `until` is taken over by renaming a new lease over it (atomic: there is never a
// moment without a lease for another run to create). Two runs taking over the same stale lease at once
// both rename; each then reads the holder back after a pause, and only the one whose lease stayed goes on.
// The holder reads it again before each send (holdsLease), so a run that lost it stops sending.
import { join } from 'node:path'
import { type Deadline, publishExclusive, readSmall, removeFile, replaceFile } from './bounded-fs.js'
import { REDRIVE_LEASE } from './layout.js'
import { timeOf } from './markers.js'

export interface LeaseHolder {
  holder: string
  until: string
}

export type LeaseOutcome = { held: true } | ({ held: false } & LeaseHolder)

/** How long a run that took over a stale lease waits before reading back whose it is. */
const SETTLE_MS = 250

const leasePath = (dir: string) => join(dir, REDRIVE_LEASE)

/** The lease as written, or undefined when there is none, or it is torn (as good as expired). */
export async function readLease(dir: string, deadline: Deadline): Promise<LeaseHolder | undefined> {
  const text = await readSmall(leasePath(dir), deadline)
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as Partial<LeaseHolder>
    return { holder: typeof v.holder === 'string' ? v.holder : 'unknown', until: typeof v.until === 'string' ? v.until : '' }
  } catch {
    return { holder: 'unknown', until: '' }
  }
}

/** Takes the lease for `holder` until `until` (epoch ms), unless another holds it past `now`. */
export async function takeLease(dir: string, holder: string, until: number, now: number, deadline: Deadline): Promise<LeaseOutcome> {
  if (!Number.isFinite(until)) throw new Error(`the lease on ${dir} needs a finite end, not ${until}: give the run a deadline`)
  const text = JSON.stringify({ holder, until: new Date(until).toISOString() })
  let current: LeaseHolder | undefined
  // Released between the two calls: create it again, rather than rename over one another run just made.
  for (let tries = 0; current === undefined && tries < 3; tries++) {
    if (await publishExclusive(leasePath(dir), text, deadline)) return { held: true }
    current = await readLease(dir, deadline)
  }
  if (current === undefined) return { held: false, holder: 'unknown', until: '' }
  if (timeOf(current.until) > now) return { held: false, ...current }
  await replaceFile(leasePath(dir), text, deadline)
  await new Promise((r) => setTimeout(r, SETTLE_MS))
  const after = await readLease(dir, deadline)
  return after?.holder === holder ? { held: true } : { held: false, ...(after ?? { holder: 'unknown', until: '' }) }
}

/** Whether `holder` still holds the lease: read before each send. */
export async function holdsLease(dir: string, holder: string, deadline: Deadline): Promise<boolean> {
  return (await readLease(dir, deadline))?.holder === holder
}

/** Moves the holder's lease on to `until`; false when it is no longer the holder's. */
export async function renewLease(dir: string, holder: string, until: number, deadline: Deadline): Promise<boolean> {
  if (!(await holdsLease(dir, holder, deadline))) return false
  await replaceFile(leasePath(dir), JSON.stringify({ holder, until: new Date(until).toISOString() }), deadline)
  return true
}

export async function releaseLease(dir: string, holder: string, deadline: Deadline): Promise<void> {
  if (await holdsLease(dir, holder, deadline)) await removeFile(leasePath(dir), deadline)
}
