// Every file-system call of the store, bounded by the invocation's deadline: a call that outlives it (a
// hung NAS mount) fails the invocation with a clear error, so Function Compute retries it, instead of
// being killed silently. Node cannot cancel a call in flight: a handle opened too late is closed, and a
// handle whose call timed out is closed without waiting (FileHandle.close() waits for the call in flight,
// so awaiting it would hang the caller past its deadline after all).
// Directories are made one level at a time: Node's recursive mkdir retries ENOENT for ever on a file
// system that refuses the directory (DEAD_LETTER_TARGET=file:/proc/nope hung for more than 30 s).
import { constants, stat as statCallback } from 'node:fs'
import { type FileHandle, link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FilesystemTimeoutError } from '../errors.js'

/** Epoch milliseconds; Infinity for tools with no deadline (the replay CLI). */
export type Deadline = number
export const NO_DEADLINE: Deadline = Number.POSITIVE_INFINITY

const code = (err: unknown) => (err as NodeJS.ErrnoException).code

export async function bounded<T>(deadline: Deadline, what: string, call: () => Promise<T>, release?: (late: T) => unknown): Promise<T> {
  if (deadline === NO_DEADLINE) return call()
  const left = Math.floor(deadline - Date.now())
  if (left <= 0) throw new FilesystemTimeoutError(what, 0)
  const pending = call()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FilesystemTimeoutError(what, left)), left)
  })
  try {
    return await Promise.race([pending, timeout])
  } catch (err) {
    if (err instanceof FilesystemTimeoutError)
      pending.then(
        (late) => release?.(late),
        () => {},
      )
    throw err
  } finally {
    clearTimeout(timer)
  }
}

export const openBounded = (deadline: Deadline, path: string, flags: string | number) =>
  bounded(
    deadline,
    `open ${path}`,
    () => open(path, flags),
    (h) => h.close(),
  )

/**
 * Closes a handle once its work is done or has failed. A call still in flight (one that timed out) would
 * hold close() until it ends, which may be never: then the handle is closed whenever the call ends, and
 * nobody waits for it.
 */
export async function closeAfter(h: FileHandle, path: string, failed: boolean, deadline: Deadline): Promise<void> {
  if (failed) {
    void h.close().catch(() => {})
    return
  }
  await bounded(deadline, `close ${path}`, () => h.close()).catch((err) => {
    if (err instanceof FilesystemTimeoutError) throw err
  })
}

/** Opens `path`, runs `use` on the handle, then closes it (closeAfter): how this module uses every handle. */
export async function withHandle<T>(
  deadline: Deadline,
  path: string,
  flags: string | number,
  use: (h: FileHandle) => Promise<T>,
): Promise<T> {
  const h = await openBounded(deadline, path, flags)
  let failed = true
  try {
    const out = await use(h)
    failed = false
    return out
  } finally {
    await closeAfter(h, path, failed, deadline)
  }
}

/** Makes `dir` and its missing parents, one level at a time; a refusal is an error that says where. */
export async function ensureDir(dir: string, deadline: Deadline, depth = 0): Promise<void> {
  try {
    await bounded(deadline, `mkdir ${dir}`, () => mkdir(dir))
    return
  } catch (err) {
    if (code(err) === 'EEXIST') {
      const s = await bounded(deadline, `stat ${dir}`, () => stat(dir))
      if (!s.isDirectory()) throw new Error(`${dir} exists and is not a directory`)
      return
    }
    if (code(err) !== 'ENOENT') throw err
  }
  const parent = dirname(dir)
  if (parent === dir || depth > 64) throw new Error(`cannot create ${dir}: no such file or directory`)
  await ensureDir(parent, deadline, depth + 1)
  try {
    await bounded(deadline, `mkdir ${dir}`, () => mkdir(dir))
  } catch (err) {
    if (code(err) === 'EEXIST') return
    if (code(err) === 'ENOENT')
      throw new Error(`cannot create ${dir}: the file system refuses it (ENOENT although ${parent} exists); point the store elsewhere`)
    throw err
  }
}

/** In-process order per file: two invocations of one instance append in turn, never interleaved. */
const queues = new Map<string, Promise<unknown>>()

/**
 * Runs `run` after the appends to `path` queued before it. The wait is bounded by this caller's deadline
 * (an earlier append may hang, or have a later deadline): a caller that gives up waiting leaves the earlier
 * append at the tail, so later ones still wait for it. An append whose own call timed out has failed
 * (closeAfter does not wait for the call) and leaves the queue, so nothing waits for a call that may
 * never end.
 */
function serialised<T>(path: string, deadline: Deadline, run: () => Promise<T>): Promise<T> {
  const before = queues.get(path)
  let ran = false
  const mine = (async () => {
    if (before !== undefined) await bounded(deadline, `waiting for an earlier append to ${path}`, () => before)
    ran = true
    return run()
  })()
  const tail: Promise<unknown> = mine.then(
    () => {},
    () => (ran ? undefined : before),
  )
  queues.set(path, tail)
  void tail.then(() => {
    if (queues.get(path) === tail) queues.delete(path)
  })
  return mine
}

/**
 * Appends `text` (whole lines) to `path` and fsyncs. A torn last line left by a crash is ended first.
 * Returns whether the file was new (its directory entry then needs an fsync too).
 */
export function appendLines(path: string, text: string, deadline: Deadline): Promise<boolean> {
  return serialised(path, deadline, () =>
    withHandle(deadline, path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, async (h) => {
      const { size } = await bounded(deadline, `stat ${path}`, () => h.stat())
      let prefix = ''
      if (size > 0) {
        const last = Buffer.alloc(1)
        await bounded(deadline, `read ${path}`, () => h.read(last, 0, 1, size - 1))
        if (last[0] !== 0x0a) prefix = '\n'
      }
      await bounded(deadline, `write ${path}`, () => h.write(prefix + text))
      await bounded(deadline, `fsync ${path}`, () => h.sync())
      return size === 0
    }),
  )
}

export async function syncDir(dir: string, deadline: Deadline): Promise<void> {
  await withHandle(deadline, dir, 'r', async (d) => {
    try {
      await bounded(deadline, `fsync ${dir}`, () => d.sync())
    } catch (err) {
      // Some file systems refuse fsync on a directory; the file itself is synced. A hang is still an error.
      if (err instanceof FilesystemTimeoutError) throw err
    }
  })
}

/** Creates `path` with `text` unless it exists: true when this call created it. */
export async function createExclusive(path: string, text: string, deadline: Deadline): Promise<boolean> {
  try {
    await withHandle(deadline, path, 'wx', async (h) => {
      if (text !== '') await bounded(deadline, `write ${path}`, () => h.write(text))
    })
    return true
  } catch (err) {
    if (code(err) === 'EEXIST') return false
    throw err
  }
}

/** Makes the directory unless it exists: true when this call made it. */
export async function mkdirExclusive(path: string, deadline: Deadline): Promise<boolean> {
  try {
    await bounded(deadline, `mkdir ${path}`, () => mkdir(path))
    return true
  } catch (err) {
    if (code(err) === 'EEXIST') return false
    throw err
  }
}

/** Whether `path` exists. The callback API: a missing file is the common answer, and its error is cheaper there. */
export function exists(path: string, deadline: Deadline): Promise<boolean> {
  return bounded(
    deadline,
    `stat ${path}`,
    () =>
      new Promise<boolean>((resolve, reject) =>
        statCallback(path, (err) => {
          if (!err) resolve(true)
          else if (err.code === 'ENOENT' || err.code === 'ENOTDIR') resolve(false)
          else reject(err)
        }),
      ),
  )
}

export async function modifiedAt(path: string, deadline: Deadline): Promise<number | undefined> {
  try {
    return (await bounded(deadline, `stat ${path}`, () => stat(path))).mtimeMs
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined
    throw err
  }
}

/** The names in `dir`; none when it does not exist. */
export async function listDir(dir: string, deadline: Deadline): Promise<string[]> {
  try {
    return await bounded(deadline, `readdir ${dir}`, () => readdir(dir))
  } catch (err) {
    if (code(err) === 'ENOENT') return []
    throw err
  }
}

export async function readSmall(path: string, deadline: Deadline): Promise<string | undefined> {
  try {
    return await bounded(deadline, `read ${path}`, () => readFile(path, 'utf8'))
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined
    throw err
  }
}

/** A name beside `path` no other writer uses. */
const tempName = (path: string) => `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`

/**
 * Publishes a whole file under `path` unless one is there already: written to a temporary name, fsynced,
 * then hard-linked into place (link fails if the name exists, atomically, on NFS too). True when this
 * call published it.
 */
export async function publishExclusive(path: string, text: string, deadline: Deadline): Promise<boolean> {
  const tmp = tempName(path)
  await withHandle(deadline, tmp, 'wx', async (h) => {
    await bounded(deadline, `write ${tmp}`, () => h.write(text))
    await bounded(deadline, `fsync ${tmp}`, () => h.sync())
  })
  try {
    await bounded(deadline, `link ${path}`, () => link(tmp, path))
    return true
  } catch (err) {
    if (code(err) === 'EEXIST') return false
    throw err
  } finally {
    await removeFile(tmp, deadline)
  }
}

/** Replaces the file at `path` with `text` whole: written to a temporary name, fsynced, renamed over it (atomic). */
export async function replaceFile(path: string, text: string, deadline: Deadline): Promise<void> {
  const tmp = tempName(path)
  await withHandle(deadline, tmp, 'wx', async (h) => {
    await bounded(deadline, `write ${tmp}`, () => h.write(text))
    await bounded(deadline, `fsync ${tmp}`, () => h.sync())
  })
  try {
    await bounded(deadline, `rename ${path}`, () => rename(tmp, path))
  } catch (err) {
    await removeFile(tmp, deadline).catch(() => {})
    throw err
  }
}

export async function removeFile(path: string, deadline: Deadline): Promise<void> {
  try {
    await bounded(deadline, `unlink ${path}`, () => unlink(path))
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err
  }
}

export async function removeTree(path: string, deadline: Deadline): Promise<void> {
  await bounded(deadline, `rm -r ${path}`, () => rm(path, { recursive: true, force: true }))
}
