// Run by validate-rules-bounds.test.ts in a child process with a small heap: builds one hostile body,
// hands it to the validate-rules handler, and prints what came back.
import { handler } from '../../../functions/validate-rules/index.js'

export type BodySpec = { repeat: string; times: number } | { overlappingRules: number }

function bodyOf(spec: BodySpec): string {
  if ('repeat' in spec) return spec.repeat.repeat(spec.times)
  const rules = Array.from({ length: spec.overlappingRules }, (_, i) => ({
    id: `rule-${i}`,
    source: { regionId: 'cn-hangzhou', instanceId: 'MQ_INST_1234567890123456_BXhFHryi', topic: 'same', groupId: `GID_bridge_${i}` },
    target: { parentTopic: `p${i}` },
  }))
  return JSON.stringify({ defaults: { profile: 'mqtt' }, rules })
}

const body = bodyOf(JSON.parse(process.argv[2]!) as BodySpec)
const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const event = {
  version: 'v1',
  rawPath: '/',
  body,
  isBase64Encoded: false,
  headers: { 'content-type': 'application/yaml' },
  queryParameters: {},
  requestContext: { requestId: 'r', http: { method: 'POST', path: '/' } },
}
const r = await handler(event, { requestId: 'r', logger: quiet })
const json = JSON.parse(r.body) as { errors?: Array<{ path: string; message: string }> }
process.stdout.write(
  JSON.stringify({
    status: r.statusCode,
    bytes: Buffer.byteLength(body),
    errors: json.errors?.length ?? 0,
    first: json.errors?.[0],
  }),
)
