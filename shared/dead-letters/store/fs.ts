// Every file-system call of the store, bounded by the deadline on the store's clock: a call that outlives
// it (a hung NAS mount) fails with FilesystemTimeoutError, so Function Compute retries the invocation
// instead of killing it silently. Node cannot cancel a call in flight: a handle opened too late is closed,
// and a handle whose call timed out is closed whenever that call ends, without waiting for it.
// Directories are made one level at a time: Node's recursive mkdir retries ENOENT for ever on a file
// system that refuses the directory (DEAD_LETTER_TARGET=file:/proc/nope hung for more than 30 s).
import { randomBytes } from 'node:crypto'
import { constants, stat as statCallback } from 'node:fs'
import { type FileHandle, link, mkdir, open, readdir, readFile, rm, rmdir, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FilesystemTimeoutError } from '../../errors.js'
import { type Clock, systemClock } from '../../mqtt/clock.js'

/** Epoch milliseconds on the store's clock; Infinity for tools with no deadline (the replay CLI's reads). */
export type Deadline = number
export const NO_DEADLINE: Deadline = Number.POSITIVE_INFINITY
/** What the store needs of a clock (shared/mqtt/clock.ts): tests move it by hand. */
export type StoreClock = Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>
/** Lines longer than this are reported, not read: one line cannot take the reader's memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024
export type Line = { ok: true; text: string; line: number } | { ok: false; line: number; problem: string }

const code = (err: unknown) => (err as NodeJS.ErrnoException).code
/** A rejection handler: `value` for the codes that mean "not there" (ENOENT, or ENOTDIR with it) or "there already", the rest rethrown. */
const unless =
  <T>(expected: 'ENOENT' | 'EEXIST' | string[], value: T) =>
  (err: unknown): T => {
    const codes = expected === 'ENOENT' ? [expected, 'ENOTDIR'] : [expected].flat()
    if (codes.includes(code(err) ?? '')) return value
    throw err
  }
/** In-process order per file: two invocations of one instance append in turn, never interleaved. */
const queues = new Map<string, Promise<unknown>>()

export class BoundedFs {
  constructor(
    readonly clock: StoreClock = systemClock,
    readonly deadline: Deadline = NO_DEADLINE,
  ) {}

  /** `call`, or FilesystemTimeoutError at the deadline; `release` gets what a call that ended too late made. */
  async bounded<T>(what: string, call: () => Promise<T>, release?: (late: T) => unknown): Promise<T> {
    if (this.deadline === NO_DEADLINE) return call()
    const left = Math.floor(this.deadline - this.clock.now())
    if (left <= 0) throw new FilesystemTimeoutError(what, 0)
    const pending = call()
    let timer: object | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new FilesystemTimeoutError(what, left)), left)
    })
    try {
      return await Promise.race([pending, timeout])
    } catch (err) {
      if (err instanceof FilesystemTimeoutError) pending.then(release, () => {})
      throw err
    } finally {
      this.clock.clearTimeout(timer)
    }
  }

  private open(path: string, flags: string | number): Promise<FileHandle> {
    return this.bounded(
      `open ${path}`,
      () => open(path, flags),
      (late) => late.close(),
    )
  }

  /** Opens `path`, runs `use`, closes it: after a call that failed (it may still be in flight), without waiting for it. */
  async withHandle<T>(path: string, flags: string | number, use: (h: FileHandle) => Promise<T>): Promise<T> {
    const h = await this.open(path, flags)
    const out = await use(h).catch((err: unknown) => {
      void h.close().catch(() => {})
      throw err
    })
    await this.bounded(`close ${path}`, () => h.close())
    return out
  }

  /** Makes `dir` and its missing parents, one level at a time; a refusal is an error that says where. */
  async ensureDir(dir: string, depth = 0): Promise<void> {
    const made = await this.mkdirExclusive(dir).catch(async (err) => {
      const parent = dirname(dir)
      if (code(err) !== 'ENOENT') throw err
      if (parent === dir || depth > 64) throw new Error(`cannot create ${dir}: no such file or directory`)
      await this.ensureDir(parent, depth + 1)
      return this.mkdirExclusive(dir).catch((again) => {
        if (code(again) !== 'ENOENT') throw again
        throw new Error(`cannot create ${dir}: the file system refuses it (ENOENT although ${parent} exists); point the store elsewhere`)
      })
    })
    if (!made && !(await this.bounded(`stat ${dir}`, () => stat(dir))).isDirectory())
      throw new Error(`${dir} exists and is not a directory`)
  }

  /** Appends whole lines (a torn last line ended first) and fsyncs, after this process's earlier appends; true if new. */
  appendLines(path: string, text: string): Promise<boolean> {
    const before = queues.get(path)
    let ran = false
    const mine = (async () => {
      if (before !== undefined) await this.bounded(`waiting for an earlier append to ${path}`, () => before)
      ran = true
      return this.withHandle(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, async (h) => {
        const { size } = await this.bounded(`stat ${path}`, () => h.stat())
        const last = Buffer.alloc(1)
        if (size > 0) await this.bounded(`read ${path}`, () => h.read(last, 0, 1, size - 1))
        try {
          await this.writeSynced(h, path, (size > 0 && last[0] !== 0x0a ? '\n' : '') + text)
        } catch (err) {
          // A short or failed write (a full disk, a quota) is undone, so no torn line is indexed (I2); this
          // writer alone appends here (I1), so the size before this append is still the right one.
          await this.bounded(`truncate ${path}`, () => h.truncate(size)).catch(() => {})
          throw err
        }
        return size === 0
      })
    })()
    // A caller that gave up waiting leaves the earlier append at the tail; one whose own call failed leaves.
    const tail: Promise<unknown> = mine.then(
      () => {},
      () => (ran ? undefined : before),
    )
    queues.set(path, tail)
    void tail.then(() => queues.get(path) === tail && queues.delete(path))
    return mine
  }

  /** Some file systems refuse fsync on a directory (the files themselves are synced); a hang is still an error. */
  syncDir(dir: string): Promise<void> {
    return this.withHandle(dir, 'r', (d) =>
      this.bounded(`fsync ${dir}`, () => d.sync()).catch((err) => {
        if (err instanceof FilesystemTimeoutError) throw err
      }),
    )
  }

  /** Writes every byte of `text`, then fsyncs: write(2) may write less than asked (a disk or quota nearly full). */
  async writeSynced(h: FileHandle, path: string, text: string): Promise<void> {
    const buf = Buffer.from(text)
    for (let done = 0; done < buf.length; ) {
      const { bytesWritten } = await this.bounded(`write ${path}`, () => h.write(buf, done, buf.length - done))
      if (bytesWritten <= 0) throw new Error(`write ${path}: ${done} of ${buf.length} bytes written, then none (is the disk full?)`)
      done += bytesWritten
    }
    await this.bounded(`fsync ${path}`, () => h.sync())
  }

  /** Publishes a whole file unless one is there: a link fails if the name exists, atomically, on NFS too. */
  async publishExclusive(path: string, text: string): Promise<boolean> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      // Never a short file: writeSynced writes every byte or throws, and nothing is linked then.
      await this.withHandle(tmp, 'wx', (h) => this.writeSynced(h, tmp, text))
      return await this.bounded(`link ${path}`, () => link(tmp, path)).then(() => true, unless('EEXIST', false))
    } finally {
      await this.remove(tmp).catch(() => {})
    }
  }

  /** Makes the directory unless it exists: true when this call made it. */
  mkdirExclusive(path: string): Promise<boolean> {
    return this.bounded(`mkdir ${path}`, () => mkdir(path)).then(() => true, unless('EEXIST', false))
  }

  /** Whether `path` exists. The callback API: a missing file is the common answer, and its error is cheaper there. */
  exists(path: string): Promise<boolean> {
    const call = () => new Promise<boolean>((resolve, reject) => statCallback(path, (err) => (err ? reject(err) : resolve(true))))
    return this.bounded(`stat ${path}`, call).catch(unless('ENOENT', false))
  }

  /** The names in `dir`; none when it does not exist. */
  list(dir: string): Promise<string[]> {
    return this.bounded(`readdir ${dir}`, () => readdir(dir)).catch(unless('ENOENT', []))
  }

  read(path: string): Promise<string | undefined> {
    return this.bounded(`read ${path}`, () => readFile(path, 'utf8')).catch(unless('ENOENT', undefined))
  }

  remove(path: string): Promise<void> {
    return this.bounded(`unlink ${path}`, () => unlink(path)).catch(unless('ENOENT', undefined))
  }

  /** When `path` last changed (ms since the epoch, by the file system's clock); undefined when it is gone. */
  mtimeMs(path: string): Promise<number | undefined> {
    return this.bounded(`stat ${path}`, () => stat(path)).then((st) => st.mtimeMs, unless('ENOENT', undefined))
  }

  /** Removes an empty directory: false when it is gone already or no longer empty (someone is writing to it). */
  removeEmptyDir(path: string): Promise<boolean> {
    return this.bounded(`rmdir ${path}`, () => rmdir(path)).then(() => true, unless(['ENOENT', 'ENOTEMPTY', 'EEXIST'], false))
  }

  removeTree(path: string): Promise<void> {
    return this.bounded(`rm -r ${path}`, () => rm(path, { recursive: true, force: true }))
  }

  /** The lines of a file, streamed in 1 MB chunks (never the whole file in memory), each read bounded. */
  async *lines(path: string, maxLine = MAX_LINE_BYTES): AsyncGenerator<Line> {
    const h = await this.open(path, 'r').catch(unless('ENOENT', undefined))
    if (h === undefined) return // removed by retention while listed
    let failed = true
    try {
      const chunk = Buffer.alloc(1024 * 1024)
      let [pending, size, line]: [Buffer[], number, number] = [[], 0, 1]
      const end = (): Line =>
        size > maxLine
          ? { ok: false, line, problem: `line longer than ${maxLine} bytes` }
          : { ok: true, text: Buffer.concat(pending).toString(), line }
      const read = async () => (await this.bounded(`read ${path}`, () => h.read(chunk, 0, chunk.length, null))).bytesRead
      for (let n = await read(); n > 0; n = await read())
        for (let start = 0; start < n; ) {
          const nl = chunk.indexOf(0x0a, start)
          const stop = nl < 0 || nl >= n ? n : nl
          size += stop - start
          pending = size > maxLine ? [] : [...pending, Buffer.from(chunk.subarray(start, stop))]
          if (stop === n) break
          if (size > 0) yield end()
          ;[pending, size, line, start] = [[], 0, line + 1, stop + 1]
        }
      if (size > 0) yield end()
      failed = false
    } finally {
      if (failed) void h.close().catch(() => {})
      else await this.bounded(`close ${path}`, () => h.close())
    }
  }
}
