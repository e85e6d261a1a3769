// What `npm start` prints: the set-up, summaries, messages, dead letters, and the commands to drive it by hand.
import { isUtf8 } from 'node:buffer'
import type { Summary } from '../../shared/bridge/bridge.js'
import type { StoredDeadLetter } from '../../shared/dead-letters/store/entry.js'
import type { FcCredentials } from '../../shared/fc/context.js'
import { plural } from '../cli/command.js'
import type { Received } from '../mqtt/subscriber.js'
import type { LocalDeployment } from './deployment.js'
import { API_VERSION } from './fc-server.js'
import { LOCAL_ACCOUNT_ID } from './start-options.js'
import type { LocalRules } from './start-rules.js'

/** Text as text when it is printable UTF-8; anything else as hex, so a binary payload cannot garble the terminal. */
export function showPayload(payload: Buffer): string {
  const text = payload.toString('utf8')
  if (isUtf8(payload) && !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text))
    return text.length > 200 ? `${text.slice(0, 200)}… (${payload.length} bytes)` : text
  return `0x${payload.subarray(0, 64).toString('hex')}${payload.length > 64 ? `… (${payload.length} bytes)` : ''}`
}

export function showMessage(m: Received): string {
  const props: string[] = []
  if (m.properties?.contentType !== undefined) props.push(`content-type ${m.properties.contentType}`)
  if (m.properties?.messageExpiryInterval !== undefined) props.push(`expiry ${m.properties.messageExpiryInterval} s`)
  if (m.properties?.userProperties) props.push(`user properties ${JSON.stringify(m.properties.userProperties)}`)
  return `${m.topic}  QoS ${m.qos}${m.retain ? '  retained' : ''}  ${showPayload(m.payload)}${props.length ? `  [MQTT 5: ${props.join(', ')}]` : ''}`
}

export function showSummary(s: Summary): string {
  const rules =
    Object.entries(s.rules)
      .map(([id, n]) => `${id} ${n}`)
      .join(', ') || 'none'
  // Filtered and expired only when there are any: the sample rules have no routes and no deadlines.
  const more = [s.filtered ? `, filtered ${s.filtered}` : '', s.expired ? `, expired ${s.expired}` : ''].join('')
  return `received ${s.received}, published ${s.published} (${rules}), dead-lettered ${s.deadLettered}, duplicates ${s.duplicates}${more}, ${s.durationMs} ms, lag ${s.lagMs === null ? 'n/a (RawData has no time)' : `${s.lagMs} ms`}`
}

export function showDeadLetter(e: StoredDeadLetter): string {
  return `${e.messageId ?? '(no message ID)'}  rule ${e.ruleId ?? '-'}  ${e.source}, ${plural(e.attempts, 'attempt')}\n      reason: ${e.reason}`
}

export interface RunFacts {
  deployment: LocalDeployment
  fc: { url: string; port: number }
  broker: { url: string; embedded: boolean }
  deadLetterDir: string
  /** Unsigned requests accepted: false with --require-signature, whose own key `credentials` then is. */
  unsigned: boolean
  credentials: FcCredentials
}

export function showSetup(r: RunFacts, subscriber: { version: 4 | 5; topics: string[] }): string[] {
  const d = r.deployment
  const width = Math.max(...d.functions.map((f) => f.name.length))
  const http = d.functions.filter((f) => f.httpTrigger).map((f) => `${r.fc.url}/http/${f.name}`)
  return [
    `MQTT broker        ${r.broker.url}${r.broker.embedded ? '  (embedded aedes: MQTT 3.1.1 only, so MQTT 5 properties are dropped; set MQTT_URL to use an MQTT 5 broker)' : '  (MQTT_URL)'}`,
    `Function Compute   ${r.fc.url}  (invoke API POST /${API_VERSION}/functions/<name>/invocations; ${r.unsigned ? 'signed requests are verified; unsigned ones accepted for curl, unless they carry Origin or another Host (a web page)' : 'signed requests only'})`,
    ...(http.length > 0 ? [`HTTP trigger       ${http.join(', ')}  (as the deployed trigger URL: real status and body)`] : []),
    ...(r.unsigned
      ? []
      : [
          `signing key        ALIBABA_CLOUD_ACCESS_KEY_ID=${r.credentials.accessKeyId} ALIBABA_CLOUD_ACCESS_KEY_SECRET=${r.credentials.accessKeySecret}  (made for this run; the published local pair is refused)`,
        ]),
    ...d.functions.map((f) => {
      const extra = [
        `timeout ${f.timeout} s`,
        f.initializer ? `initializer ${f.initializer}` : '',
        f.preStop ? `preStop ${f.preStop} (when this server stops)` : '',
        f.onFailure ? `async: ${f.maxAsyncRetryAttempts} retries, then onFailure -> ${f.onFailure}` : '',
      ]
        .filter(Boolean)
        .join(', ')
      return `  ${f.name.padEnd(width)}  ${f.role.padEnd(14)} ${extra}`
    }),
    `bridge env         MQTT_URL=${r.broker.url} DEAD_LETTER_TARGET=${d.deadLetterTarget} FC_ENDPOINT=${r.fc.url}`,
    `dead-letter store  ${r.deadLetterDir}`,
    `subscriber         MQTT.js, MQTT ${subscriber.version === 5 ? '5' : '3.1.1'}, subscribed to ${subscriber.topics.join(', ')}`,
  ]
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The commands that drive the running system by hand, ready to paste. */
export function handCommands(r: RunFacts, topics: string[], message: LocalRules['handMessage']): string[] {
  const d = r.deployment
  const invoke = (name: string) => `${r.fc.url}/${API_VERSION}/functions/${name}/invocations`
  // RawData without UNIQ_KEY: every paste is a new message (a repeated message ID would count as a duplicate).
  const event = JSON.stringify([
    {
      topic: message.topic,
      systemProperties: {
        ...(message.tag ? { TAGS: message.tag } : {}),
        ...(message.instanceId ? { INSTANCE_ID: message.instanceId } : {}),
      },
      userProperties: { mqttSecondTopic: '/room1/lamp' },
      body: 'hello from curl',
    },
  ])
  const url = new URL(r.broker.url)
  const topicArgs = topics.map((t) => `-t ${shellQuote(t)}`).join(' ')
  const keys = `ALIBABA_CLOUD_ACCESS_KEY_ID=${r.credentials.accessKeyId} ALIBABA_CLOUD_ACCESS_KEY_SECRET=${shellQuote(r.credentials.accessKeySecret)}`
  const lines: string[] = []
  if (r.unsigned) {
    lines.push(
      '# A RocketMQ message (RawData shape) through the bridge; its summary comes back, the subscriber above prints it:',
      `curl -sS ${invoke(d.names.bridge)} -H 'content-type: application/json' -d ${shellQuote(event)}`,
      '',
      '# The same, asynchronously as the RocketMQ trigger invokes (202 at once; failures are retried, then go to onFailure):',
      `curl -sS -i ${invoke(d.names.bridge)} -H 'x-fc-invocation-type: Async' -d ${shellQuote(event)}`,
      '',
      '# Make it poison (qoslevel 3): it lands in the dead-letter store, the rest of a batch is still delivered:',
      `curl -sS ${invoke(d.names.bridge)} -d ${shellQuote(event.replace('"mqttSecondTopic":"/room1/lamp"', '"mqttSecondTopic":"/room1/lamp","qoslevel":"3"'))}`,
      '',
      '# Sample 1 of examples/events.json again (needs jq). This warm bridge delivered its messages already, so they count',
      '# as duplicates and are not published twice; the poison is reported again; lagMs counts from the time in the file:',
      `jq -c '.samples[0].event' examples/events.json | curl -sS ${invoke(d.names.bridge)} --data-binary @-`,
      '',
      '# The validate-rules function through its HTTP trigger, as the deployed trigger URL answers (422: every error with its path):',
      `curl -sS -i ${r.fc.url}/http/${d.names['validate-rules']} -H 'content-type: application/yaml' --data-binary 'rules: [{id: x}]'`,
      '',
      '# Unsigned requests are a local convenience: Function Compute itself wants them signed. Signed, the way its SDK does it:',
    )
  } else {
    lines.push(
      "# This server refuses unsigned requests (--require-signature). A signed invocation, the way the SDK makes it, with this run's key:",
    )
  }
  lines.push(
    `echo ${shellQuote(event)} | ${r.unsigned ? '' : `${keys} `}npx tsx scripts/local/invoke.ts --fc-port ${r.fc.port} ${d.names.bridge}`,
    '',
    '# The smoke test you run after deploying, against this server (one synthetic message, awaited on MQTT_URL):',
    `${keys} ALIBABA_CLOUD_ACCOUNT_ID=${LOCAL_ACCOUNT_ID} REGION=${d.region} FC_ENDPOINT=${r.fc.url} MQTT_URL=${r.broker.url} \\`,
    `  npm run smoke -- --rule ${message.ruleId}`,
    '',
    `# Watch the MQTT side (mosquitto_sub comes with Mosquitto's clients; optional):`,
    url.protocol !== 'mqtt:'
      ? `# (${url.protocol}// broker: give mosquitto_sub its host, port and TLS options, with ${topicArgs})`
      : r.broker.embedded
        ? `mosquitto_sub -h ${url.hostname} -p ${url.port || 1883} -V mqttv311 -q 2 ${topicArgs} -F '%t  QoS %q  %p'`
        : `mosquitto_sub -h ${url.hostname} -p ${url.port || 1883} -V mqttv5 -q 2 ${topicArgs} -F '%t  QoS %q  %p  expiry %E  content-type %C  user properties %P'`,
    '',
    '# The dead letters, and a replay through the served bridge (the qoslevel-3 poison stays poison):',
    `npm run replay -- --dry-run --dir ${shellQuote(r.deadLetterDir)}`,
    `${keys} ALIBABA_CLOUD_ACCOUNT_ID=${LOCAL_ACCOUNT_ID} ALIBABA_CLOUD_REGION=${d.region} FC_ENDPOINT=${r.fc.url} \\`,
    `  npm run replay -- --target fc --dir ${shellQuote(r.deadLetterDir)}`,
    '',
    '# A report (totals per rule and minute, lag, top reasons) from the log lines this prints, saved with `npm start | tee start.log`:',
    'npm run logs -- start.log',
  )
  return lines
}
