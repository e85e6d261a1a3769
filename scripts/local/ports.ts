// Ports of `npm start`: a port that is taken is never swapped silently for another.
import { PortInUseError } from '../../shared/errors.js'

/** EADDRINUSE becomes a PortInUseError; anything else is returned as it is. */
export function explainListenError(err: unknown, port: number, what: string, flag: string): unknown {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE' ? new PortInUseError(port, what, flag) : err
}

/** A port flag's value: a whole number from 0 (any free port) to 65535. */
export function parsePort(value: string, flag: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new Error(`${flag} must be a port number from 0 to 65535, not ${JSON.stringify(value)}`)
  return n
}
