// What every command shares: strict options with --help, usage errors (exit 2), and running as the entry point.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { messageOf } from '../../shared/errors.js'
import { redact } from '../../shared/logging/secrets.js'

export type OptionValues<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ options: O }>>['values']

/** Where a command prints: its output and its errors. */
export type Print = Record<'out' | 'err', (line: string) => void>

/**
 * The command line through `read`, or an exit code: 0 once --help (-h) printed `help`, 2 once a usage
 * error (from parseArgs, or thrown by `read`) printed its message and the usage.
 */
export function parseCommand<T extends ParseArgsConfig, R>(
  argv: string[],
  config: T,
  usage: string,
  print: Print,
  read: (parsed: ReturnType<typeof parseArgs<T>>) => R,
  help = usage,
): R | number {
  try {
    const options = { ...config.options, help: { type: 'boolean', short: 'h' } } as const
    const parsed = parseArgs({ ...config, options, args: argv, strict: true })
    if ((parsed.values as { help?: boolean }).help) {
      print.out(help)
      return 0
    }
    return read(parsed as ReturnType<typeof parseArgs<T>>)
  } catch (err) {
    print.err(`${messageOf(err)}\n${usage}`)
    return 2
  }
}

export const isMain = (url: string) => Boolean(process.argv[1]) && resolve(process.argv[1]!) === fileURLToPath(url)

/** Runs `main` when `url` is the entry point; `exit` ends the process at once (the SDK's keep-alive agents would hold it). */
export function runAsMain(url: string, main: (argv: string[]) => Promise<number>, o: { failed?: string; exit?: boolean } = {}): void {
  if (!isMain(url)) return
  const done = (code: number) => {
    if (o.exit) process.exit(code)
    process.exitCode = code
  }
  main(process.argv.slice(2)).then(done, (err: unknown) => {
    console.error(redact(`${o.failed ?? ''}${messageOf(err)}`))
    done(1)
  })
}

/** A file's text, or undefined once `cannot read <path>: <code>` went to `fail`. */
export function readText(path: string, fail: (message: string) => never): string
export function readText(path: string, fail: (message: string) => void): string | undefined
export function readText(path: string, fail: (message: string) => void): string | undefined {
  return readBytes(path, fail)?.toString('utf8')
}

export function readBytes(path: string, fail: (message: string) => void): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch (err) {
    fail(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`)
    return undefined
  }
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
