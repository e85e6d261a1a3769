// The command line of `npm start -- [options]`, its ports (one that is taken is never swapped silently for
// another), and the local credentials the run signs with.
import { randomBytes } from 'node:crypto'
import { PortInUseError } from '../../shared/errors.js'
import type { FcCredentials } from '../../shared/fc/context.js'
import { type Print, parseCommand } from '../cli/command.js'

export const USAGE = `usage: npm start -- [--once] [--no-samples] [--mqtt-port N] [--fc-port N] [--require-signature]

  --once               send the samples, print the result, exit (0: all as expected, 1: not);
                       uses free ports unless --mqtt-port / --fc-port are given
  --no-samples         send no samples: only serve (with --once, start, check the set-up and exit).
                       The samples are examples/events.json under the repository's rules.yaml; under
                       other rules (RULES_FILE), one message per route and target of each enabled rule,
                       made from its filters and placeholders
  --mqtt-port N        port of the embedded MQTT broker (default 1883; ignored when MQTT_URL is set)
  --fc-port N          port of the local Function Compute invoke API (default 9000)
  --require-signature  refuse unsigned requests, as Function Compute does, and sign with a key made for
                       this run (printed at start) instead of the published local pair. By default a
                       request without an Authorization header is accepted, so curl works by hand, unless
                       it carries an Origin header or a Host other than 127.0.0.1:<port> (a web page)
  -h, --help           this text

environment: MQTT_URL (use that broker instead of the embedded one), DEAD_LETTER_DIR (default
./.dead-letters), LOG_LEVEL, and the bridge's other variables (docs/deploying.md, "Environment variables")`

export const DEFAULT_FC_PORT = 9000

/** A port flag's value: a whole number from 0 (any free port) to 65535. */
export function parsePort(value: string, flag: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new Error(`${flag} must be a port number from 0 to 65535, not ${JSON.stringify(value)}`)
  return n
}

/** EADDRINUSE becomes a PortInUseError; anything else is returned as it is. */
export function explainListenError(err: unknown, port: number, what: string, flag: string): unknown {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE' ? new PortInUseError(port, what, flag) : err
}

/** The local invoke API's key pair: published (README), so not a secret; it only shows that signing works. */
export const LOCAL_CREDENTIALS: FcCredentials = { accessKeyId: 'LOCAL_ACCESS_KEY_ID', accessKeySecret: 'local-access-key-secret' }

/** With --require-signature, a secret drawn for this run alone (a published one would protect nothing). */
export function runCredentials(requireSignature: boolean): FcCredentials {
  if (!requireSignature) return LOCAL_CREDENTIALS
  return { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, accessKeySecret: randomBytes(24).toString('base64url') }
}
export const LOCAL_ACCOUNT_ID = '1234567890123456'

const options = {
  once: { type: 'boolean', default: false },
  'no-samples': { type: 'boolean', default: false },
  'mqtt-port': { type: 'string' },
  'fc-port': { type: 'string' },
  'require-signature': { type: 'boolean', default: false },
} as const

/** The options, or the exit code once --help or a usage error printed. */
export function parseStartOptions(argv: string[], print: Print) {
  return parseCommand(argv, { options }, USAGE, print, ({ values }) => {
    // --once must never collide with a running `npm start` or another test: any free port by default.
    const port = (flag: 'mqtt-port' | 'fc-port', fallback: number) => {
      const value = values[flag]
      return value !== undefined ? parsePort(value, `--${flag}`) : values.once ? 0 : fallback
    }
    return {
      once: values.once,
      samples: !values['no-samples'],
      mqttPort: port('mqtt-port', 1883),
      fcPort: port('fc-port', DEFAULT_FC_PORT),
      requireSignature: values['require-signature'],
    }
  })
}

export type StartOptions = Exclude<ReturnType<typeof parseStartOptions>, number>
