// Environment variables a command cannot do without, as the commands that invoke Function Compute read them.

/** The value of the first of `names` that is set; otherwise an error saying that `what` needs one of them. */
export function requiredEnv(env: NodeJS.ProcessEnv, what: string, ...names: string[]): string {
  for (const n of names) if (env[n]) return env[n]!
  throw new Error(`${what} needs ${names.join(' or ')} in the environment`)
}
