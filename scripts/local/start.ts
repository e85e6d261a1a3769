// npm start: the whole system on one machine (README, "What npm start shows"): an MQTT broker (embedded
// aedes, or MQTT_URL), the BUILT functions of s.yaml served as Function Compute serves them, a subscriber
// to every topic the rules publish to, and samples sent through the bridge. Then it keeps serving (Ctrl-C
// stops everything), or with --once exits: 0 when every sample came out as expected.
import { once } from 'node:events'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Summary } from '../../shared/bridge/bridge.js'
import { DEFAULT_DEAD_LETTER_DIR, loadConfig } from '../../shared/config/bridge.js'
import { readDeadLetters } from '../../shared/dead-letters/store/store.js'
import { messageOf } from '../../shared/errors.js'
import { FcInvoker } from '../../shared/fc/invoke.js'
import { plural, runAsMain } from '../cli/command.js'
import { bridgeSettings, connectSubscriber } from '../mqtt/subscriber.js'
import { startEmbeddedBroker } from './broker.js'
import { readDeployment } from './deployment.js'
import { ensureBuilt } from './dist.js'
import { startLocalFc } from './fc-server.js'
import { matchDeadLetters, matchMessages, stampTimes } from './samples.js'
import { explainListenError, LOCAL_ACCOUNT_ID, parseStartOptions, runCredentials, type StartOptions } from './start-options.js'
import { handCommands, type RunFacts, showDeadLetter, showMessage, showSetup, showSummary } from './start-report.js'
import { chooseSamples, readRules } from './start-rules.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** How long the subscriber may take to see the last sample message after the invocations returned. */
const RECEIVE_WAIT_MS = 10_000

const print = (...lines: string[]) => process.stdout.write(lines.map((l) => `${l}\n`).join(''))
const section = (title: string) => print(`\n== ${title}`)

/** What must be stopped at exit, in reverse order of starting. */
type Resources = Array<[name: string, close: () => Promise<unknown>]>

/** The subscriber, with the bridge's own broker settings; `say` hears when it loses the broker and has it back. */
export async function startSubscriber(url: string, topics: string[], say: (line: string) => void = (l) => print(`  subscriber: ${l}`)) {
  const settings = bridgeSettings(loadConfig({ ...process.env, MQTT_URL: url }), 'start')
  const sub = await connectSubscriber({ ...settings, topics, reconnectMs: 1000 }).catch((err: unknown) => {
    throw new Error(
      `the subscriber cannot subscribe on ${url}: ${messageOf(err)}\n  Is the broker running and is MQTT_URL right? Unset MQTT_URL to use the embedded broker.`,
    )
  })
  sub.onConnection = (e) =>
    say(
      e.kind === 'lost'
        ? `lost the broker (${e.reason}); reconnecting every second`
        : `reconnected to the broker, subscribed to ${topics.join(', ')} again`,
    )
  return sub
}

async function run(options: StartOptions, resources: Resources): Promise<number> {
  print('rocketmq-mqtt-bridge: the whole system on this machine (no cloud account needed)')
  const deployment = readDeployment(join(root, 's.yaml'), process.env, LOCAL_ACCOUNT_ID)
  const bridgeFn = deployment.functions.find((f) => f.role === 'bridge')!
  const bundles = deployment.functions.map((f) => join(f.dir, 'index.js'))
  print(await ensureBuilt(root, bundles))
  const rules = readRules(root)

  // Broker: MQTT_URL when set, else the embedded one. One with credentials is refused before anything prints
  // it: the bridge would refuse it too, and the password would be on screen.
  const mqttUrl = process.env['MQTT_URL']
  if (mqttUrl && /^[a-z]+:\/\/[^/]*@/i.test(mqttUrl))
    throw new Error('MQTT_URL must not contain credentials; set MQTT_AUTH=password with MQTT_USERNAME and MQTT_PASSWORD instead')
  const embedded = mqttUrl ? undefined : await startEmbeddedBroker(options.mqttPort)
  if (embedded) resources.push(['the embedded MQTT broker', () => embedded.close()])
  const broker = { url: embedded?.url ?? mqttUrl!, embedded: embedded !== undefined }
  const subscriber = await startSubscriber(broker.url, rules.topics)
  resources.push(['the subscriber', () => subscriber.close()])

  // The functions run in this process and read process.env: what s.yaml sets, pointed at local things.
  const deadLetterDir = resolve(process.env['DEAD_LETTER_DIR'] || DEFAULT_DEAD_LETTER_DIR)
  Object.assign(process.env, { MQTT_URL: broker.url, DEAD_LETTER_TARGET: deployment.deadLetterTarget, DEAD_LETTER_DIR: deadLetterDir })
  const credentials = runCredentials(options.requireSignature)
  const fc = await startLocalFc({
    functions: deployment.functions,
    credentials,
    port: options.fcPort,
    accountId: LOCAL_ACCOUNT_ID,
    region: deployment.region,
    allowUnsigned: !options.requireSignature,
    log: (line) => print(`  | ${line}`),
  }).catch((err: unknown) => {
    throw explainListenError(err, options.fcPort, 'the local Function Compute invoke API', '--fc-port')
  })
  // Stopping the server runs the bridge's preStop hook (as s.yaml configures it), which closes its pool with
  // DISCONNECT; the resources stop in reverse order, so this happens before the broker goes.
  resources.push(['the local Function Compute', () => fc.close()])
  process.env['FC_ENDPOINT'] = fc.url
  const facts: RunFacts = { deployment, fc, broker, deadLetterDir, unsigned: !options.requireSignature, credentials }

  section('Set-up')
  print(...showSetup(facts, subscriber))

  const samples = chooseSamples(root, options.samples, rules, print)
  const problems: string[] = []
  const started = new Date()
  const invoker = new FcInvoker({
    accountId: LOCAL_ACCOUNT_ID,
    region: deployment.region,
    credentials,
    endpoint: fc.url,
    timeoutMs: (bridgeFn.timeout + 10) * 1000,
  })
  let dropped = 0
  for (const [i, sample] of samples.entries()) {
    const count = Array.isArray(sample.event) ? sample.event.length : 1
    section(
      `Sample ${i + 1}/${samples.length}: ${sample.name} (${plural(count, 'message')}), synchronous invoke of ${deployment.names.bridge} through @alicloud/fc2`,
    )
    if (sample.about) print(sample.about)
    try {
      const result = await invoker.invoke(deployment.names.bridge, JSON.stringify(stampTimes(sample.event, new Date())), 'Sync')
      await fc.settled() // the dead-letter hand-offs it made, so their log lines come before the summary
      const summary = result.body as Summary
      print(`summary: ${JSON.stringify(summary)}`, `  ${showSummary(summary)}`)
      if (summary.droppedV5Properties > 0) {
        dropped += summary.droppedV5Properties
        print(
          `  ${plural(summary.droppedV5Properties, 'MQTT 5 property set')} dropped and counted (droppedV5Properties): the broker speaks MQTT 3.1.1 only${broker.embedded ? ' (embedded aedes). With MQTT_URL pointing at an MQTT 5 broker they arrive' : ''}.`,
        )
      }
    } catch (err) {
      await fc.settled()
      print(`invocation failed: ${messageOf(err)}`)
      problems.push(`sample "${sample.name}": the invocation failed: ${messageOf(err)}`)
    }
  }

  // Every expected message, or the wait runs out.
  await subscriber.waitUntil((got) => matchMessages(samples, got, false).every((m) => m.received), RECEIVE_WAIT_MS)
  const checkMqtt5 = subscriber.version === 5 && dropped === 0
  const matches = matchMessages(samples, subscriber.messages, checkMqtt5)
  section(`Received by the subscriber (${subscriber.messages.length})`)
  for (const m of subscriber.messages) print(`  ${showMessage(m)}`)
  for (const m of matches) {
    if (!m.received)
      problems.push(
        `sample "${m.sample}": ${m.expected.topic} QoS ${m.expected.qos} ${JSON.stringify(m.expected.payload)} was not received within ${RECEIVE_WAIT_MS / 1000} s`,
      )
    else if (m.propertyProblem) problems.push(`sample "${m.sample}": ${m.expected.topic}: MQTT 5 ${m.propertyProblem}`)
  }
  if (broker.embedded)
    print(
      '  (MQTT 3.1.1: no MQTT 5 properties on these messages. The /p2p/ topic is an ordinary topic on this broker; ApsaraMQ for MQTT delivers it to that one client.)',
    )

  const entries = await readDeadLetters(deadLetterDir)
  const recent = entries.filter((e) => Date.parse(e.lastFailureAt) >= started.getTime())
  section(
    `Dead letters: ${recent.length} from this run, stored by ${deployment.names['dead-letter']} in ${deadLetterDir} (${entries.length} in the store)`,
  )
  for (const e of recent) print(`  ${showDeadLetter(e)}`)
  const deadMatches = matchDeadLetters(samples, recent)
  for (const d of deadMatches) {
    if (!d.entry)
      problems.push(`sample "${d.sample}": dead letter ${d.messageId} (reason containing "${d.reason}") is not in ${deadLetterDir}`)
  }
  for (const inv of fc.invocations.filter((x) => x.outcome !== 'ok')) {
    problems.push(
      `${inv.type} invocation of ${inv.functionName} (${inv.requestId}, attempt ${inv.attempt}): ${inv.outcome}: ${inv.error ?? ''}`,
    )
  }

  section('Result')
  const ok = (n: number, of: number, what: string) => `${n}/${of} ${what}`
  print(
    `  ${[
      ok(matches.filter((m) => m.received && !m.propertyProblem).length, matches.length, 'sample messages received'),
      ok(deadMatches.filter((d) => d.entry).length, deadMatches.length, 'poison messages stored as dead letters'),
      ok(fc.invocations.filter((x) => x.outcome === 'ok').length, fc.invocations.length, 'invocations ok'),
    ].join(', ')}`,
  )
  const fine = samples.length > 0 ? '  OK: every sample came out as expected' : '  OK: everything is up; no sample was sent'
  print(...(problems.length > 0 ? problems.map((p) => `  FAILED: ${p}`) : [fine]))
  if (options.once) return problems.length > 0 ? 1 : 0

  section('Serving. Drive it by hand (Ctrl-C stops everything)')
  print(...handCommands(facts, rules.topics, rules.handMessage), '', 'What the subscriber receives from now on:')
  subscriber.onMessage = (m) => print(`  <- ${showMessage(m)}`)
  const signal = await Promise.race(['SIGINT', 'SIGTERM'].map((name) => once(process, name).then(() => name)))
  print(`\n${signal}: stopping the functions, the subscriber and the broker`)
  return 0
}

async function main(argv: string[]): Promise<number> {
  const options = parseStartOptions(argv, { out: print, err: console.error })
  if (typeof options === 'number') return options
  const resources: Resources = []
  try {
    return await run(options, resources)
  } catch (err) {
    process.stderr.write(`\nnpm start failed: ${messageOf(err)}\n`)
    return 1
  } finally {
    // A second Ctrl-C while stopping does not wait.
    process.once('SIGINT', () => process.exit(130))
    for (const [name, close] of resources.reverse())
      await Promise.resolve()
        .then(close)
        .catch((err: unknown) => process.stderr.write(`while stopping ${name}: ${messageOf(err)}\n`))
  }
}

runAsMain(import.meta.url, main, { exit: true })
