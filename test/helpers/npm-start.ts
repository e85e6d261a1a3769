// `npm start` as the end-to-end tests run it: a child process of scripts/local/start.ts whose output is kept,
// and a wait for a line of it that listens to the output and the exit (no polling).
import { type ChildProcess, spawn } from 'node:child_process'

export type Started = ChildProcess & { output: () => string }

/** The line `npm start` prints once it serves. */
export const SERVING = 'What the subscriber receives from now on:'

/** A newcomer's shell: none of the bridge's variables set. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (/^(MQTT_|DEAD_LETTER_|FC_|RULES_FILE$|LOG_LEVEL$|ALIBABA_CLOUD_|REGION$)/.test(k)) delete env[k]
  return env
}

export function startNpmStart(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local/start.ts', ...args], {
    cwd,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const add = (d: Buffer) => {
    out += d.toString()
  }
  child.stdout!.on('data', add)
  child.stderr!.on('data', add)
  return Object.assign(child, { output: () => out })
}

/** Resolves once `child` has printed `text`; rejects if it exits first, or after `timeoutMs`, with what it printed. */
export function waitForOutput(child: Started, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer)
      child.stdout!.off('data', check)
      child.stderr!.off('data', check)
      child.off('exit', exited)
      if (err) reject(err)
      else resolve()
    }
    // Listeners added after startNpmStart's, so the output already holds the chunk being checked.
    const check = () => {
      if (child.output().includes(text)) done()
    }
    const exited = (code: number | null) =>
      child.output().includes(text)
        ? done()
        : done(new Error(`npm start exited with ${code} before printing "${text}":\n${child.output()}`))
    const timer = setTimeout(
      () => done(new Error(`npm start did not print "${text}" within ${timeoutMs} ms:\n${child.output()}`)),
      timeoutMs,
    )
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    child.on('exit', exited)
    if (child.exitCode !== null) exited(child.exitCode)
    else check()
  })
}
