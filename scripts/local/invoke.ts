// A signed invocation of a function served by `npm start`, made as Function Compute's clients make it (USAGE).
import { readFileSync } from 'node:fs'
import { FcInvoker } from '../../shared/fc/invoke.js'
import { parseCommand, runAsMain } from '../cli/command.js'
import { DEFAULT_FC_PORT, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, parsePort } from './start-options.js'

export const USAGE = `usage: npx tsx scripts/local/invoke.ts [--fc-port N] [--async] [--region R] <function-name> [<event-file> | -]

A signed invocation of a function that \`npm start\` serves, made as @alicloud/fc2 makes it.

  <function-name>  e.g. rocketmq-mqtt-bridge
  <event-file>     the event to send; - or nothing: standard input
  --fc-port N      the local invoke API's port (default ${DEFAULT_FC_PORT})
  --async          invoke asynchronously (202 at once; the npm start terminal shows the logs)
  --region R       the region signed for (default cn-hangzhou)
  -h, --help       this text

environment: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET sign the request (the key
\`npm start -- --require-signature\` prints); without them, the published local pair.`

const options = {
  'fc-port': { type: 'string' },
  async: { type: 'boolean', default: false },
  region: { type: 'string', default: 'cn-hangzhou' },
} as const

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, { options, allowPositionals: true }, USAGE, { out: console.log, err: console.error }, (p) => p)
  if (typeof parsed === 'number') return parsed
  const { values, positionals } = parsed
  const [name, file = '-'] = positionals
  if (name === undefined || positionals.length > 2) {
    console.error(USAGE)
    return 2
  }
  const port = values['fc-port'] !== undefined ? parsePort(values['fc-port'], '--fc-port') : DEFAULT_FC_PORT
  const event = file === '-' ? readFileSync(0) : readFileSync(file)
  const { ALIBABA_CLOUD_ACCESS_KEY_ID: id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: secret } = process.env
  const invoker = new FcInvoker({
    accountId: LOCAL_ACCOUNT_ID,
    region: values.region,
    credentials: id && secret ? { accessKeyId: id, accessKeySecret: secret } : LOCAL_CREDENTIALS,
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

runAsMain(import.meta.url, main, { exit: true })
