// npx tsx scripts/local/invoke.ts [--fc-port N] [--async] <function-name> [<event-file> | -]
//
// A signed invocation of a function served by `npm start`, made the way Function Compute's clients make
// it (@alicloud/fc2, API 2023-03-30, the local key pair). It works with --require-signature, where an
// unsigned curl is refused. The event is read from the file, or from stdin with `-` or no file.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { messageOf } from '../../shared/errors.js'
import { FcInvoker } from '../../shared/fc/invoke.js'
import { parsePort } from './ports.js'
import { DEFAULT_FC_PORT, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from './start-options.js'

const USAGE = 'usage: npx tsx scripts/local/invoke.ts [--fc-port N] [--async] <function-name> [<event-file> | -]'

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'fc-port': { type: 'string' },
      async: { type: 'boolean', default: false },
      region: { type: 'string', default: 'cn-hangzhou' },
    },
    allowPositionals: true,
    strict: true,
  })
  const [name, file = '-'] = positionals
  if (name === undefined || positionals.length > 2) {
    console.error(USAGE)
    return 2
  }
  const port = values['fc-port'] !== undefined ? parsePort(values['fc-port'], '--fc-port') : DEFAULT_FC_PORT
  const event = file === '-' ? readFileSync(0) : readFileSync(file)
  const invoker = new FcInvoker({
    accountId: LOCAL_ACCOUNT_ID,
    region: values.region,
    credentials: LOCAL_CREDENTIALS,
    endpoint: `http://127.0.0.1:${port}`,
    timeoutMs: 130_000,
  })
  const result = await invoker.invoke(name, event, values.async ? 'Async' : 'Sync')
  console.log(
    values.async
      ? `accepted (202), request ${result.requestId ?? '?'}: see the npm start terminal for its logs`
      : typeof result.body === 'string'
        ? result.body
        : JSON.stringify(result.body),
  )
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(messageOf(err))
      process.exit(1)
    },
  )
}
