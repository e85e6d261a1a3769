// A rule's routes: an ordered list of {when, topic, qos?, retain?, userProperties?, allowAnyParent?}. The
// schema; the compilation that the validator (every problem, with its path) and the rule model
// (model.ts: the compiled routes) share, so the two cannot disagree; and, per message, the route it takes
// and where that sends it (destinationOf). docs/rules.md, "Routes: topic templates and filters".
import { z } from 'zod'
import { formatPath, ok, type ProblemAt, type Result, refused } from '../errors.js'
import { error } from '../schema-helpers.js'
import type { FieldReader } from './fields.js'
import { accepts, type Condition, covers, describeValue, type Found, parseWhen } from './filter.js'
import { forbiddenCharacter, mqttStringProblem } from './mqtt-strings.js'
import type { Profile } from './profiles.js'
import { tagSet } from './tags.js'
import { parseTemplate, readsBody, renderText, type Template } from './template.js'
import { parseTopicTemplate, renderTopic, type TopicTemplate } from './topic-template.js'
import { fullTopicProblem, quote } from './topics.js'

export const MAX_ROUTES = 32
export const MAX_ROUTE_USER_PROPERTIES = 32

/** A QoS level, for a rule's target and a route alike. */
export const qosSchema = z.union([z.literal(0), z.literal(1), z.literal(2)], error('must be 0, 1 or 2'))
/** A mapping, passed on as it is: its keys are checked by hand, own keys only (a `__proto__` key is just a key). */
const mapping = (message: string) =>
  z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { message })

export const routeSchema = z
  .object(
    {
      when: mapping('must be a mapping of fields to conditions, such as {tags: Alarm}; {} takes every message'),
      topic: z.string(error(`must be a topic template (text), such as alarms/\${userProperties.site}`)),
      qos: qosSchema.optional(),
      retain: z.boolean(error('must be true or false')).optional(),
      userProperties: mapping('must be a mapping of MQTT 5 user property names to templates').optional(),
      /** Profile mqtt: lets a template whose first level is a placeholder let the producer choose the parent topic. */
      allowAnyParent: z.boolean(error('must be true or false')).optional(),
    },
    error('must be a mapping with when and topic'),
  )
  .strict()

export type Route = z.infer<typeof routeSchema>

export type QoS = 0 | 1 | 2

export interface CompiledRoute {
  conditions: Condition[]
  topic: TopicTemplate
  qos?: QoS
  retain?: boolean
  userProperties: Array<[name: string, value: Template]>
  /** Whether its filter or templates read the JSON body: the body is parsed only for such routes. */
  readsBody: boolean
  /** Profile mqtt, `allowAnyParent: true`: the producer chooses the first level, which may be any rule's. */
  anyParent: boolean
}

/**
 * What the compilation needs of a rule, each part present only when it passed the schema: so the routes of a
 * rule with a problem elsewhere are still checked, and every error is reported at once.
 */
export interface RoutedRule {
  /** The rule's `routes` as written; each is checked against the route schema here, and skipped if it fails it. */
  routes?: unknown[]
  tags?: string
  bodyEncoding?: 'utf8' | 'base64'
  unmatched?: 'target' | 'skip'
}

/**
 * The rule's routes compiled, and every semantic problem with them, with paths under `rules[i]` (a route's
 * schema problems are the rule schema's to report). `routes` holds a slot per route, undefined where one failed.
 */
export function compileRoutes(
  rule: RoutedRule,
  i: number,
  profile: Profile,
): { routes: Array<CompiledRoute | undefined>; problems: ProblemAt[] } {
  const problems: ProblemAt[] = []
  const at = (path: Array<string | number>, message: string) => problems.push({ path: formatPath(['rules', i, ...path]), message })
  const routes = (rule.routes ?? []).map((raw, j) => {
    const route = routeSchema.safeParse(raw)
    return route.success ? compileRoute(route.data, profile, (path, message) => at(['routes', j, ...path], message)) : undefined
  })
  if (rule.unmatched === 'skip' && routes.length === 0)
    at(['unmatched'], 'skip needs routes: without any, every message of the rule would be filtered out')
  const accepted = rule.tags === undefined ? '*' : tagSet(rule.tags)
  routes.forEach((r, j) => {
    if (!r) return
    if (r.readsBody && rule.bodyEncoding === 'base64')
      at(['routes', j], 'reads the body (body.<path>), but target.bodyEncoding is base64: only a UTF-8 JSON body can be read')
    for (const c of r.conditions) {
      if (c.field.kind !== 'tags' || accepted === '*' || (c.test.kind !== 'equals' && c.test.kind !== 'oneOf')) continue
      const values = c.test.kind === 'equals' ? [c.test.value] : [...c.test.values]
      const never = values.filter((v) => !accepted.has(v))
      if (never.length > 0)
        at(
          ['routes', j, 'when', 'tags'],
          `tag ${JSON.stringify(never[0])} never reaches this rule: source.tags is ${JSON.stringify(rule.tags)}`,
        )
    }
    const k = routes.findIndex((earlier, e) => e < j && earlier !== undefined && covers(earlier.conditions, r.conditions))
    if (k !== -1) {
      const why =
        routes[k]!.conditions.length === 0
          ? `routes[${k}] has an empty when and takes every message`
          : `routes[${k}] takes every message it accepts`
      at(['routes', j], `unreachable: ${why}`)
    }
  })
  return { routes, problems }
}

function compileRoute(
  route: Route,
  profile: Profile,
  at: (path: Array<string | number>, message: string) => void,
): CompiledRoute | undefined {
  let fine = true
  const fail = (path: Array<string | number>, message: string) => {
    fine = false
    at(path, message)
  }
  const found: Found[] = []
  const conditions = parseWhen(route.when, found)
  for (const f of found) fail(['when', ...f.at], f.message)
  const parsedTopic = parseTopicTemplate(route.topic, profile)
  if (!parsedTopic.ok) fail(['topic'], parsedTopic.reason)
  else if (parsedTopic.value.parent === undefined && route.allowAnyParent !== true)
    fail(
      ['topic'],
      `lets the producer choose the parent topic (its first level is not written out), so a message could reach any topic, another rule's included; write the first level out, or set allowAnyParent: true on this route to allow it`,
    )
  if (route.allowAnyParent === true && profile.singleLevelParent)
    fail(
      ['allowAnyParent'],
      `is not allowed in profile ${profile.name}: the parent topic must be written out and created in the MQTT instance`,
    )
  const userProperties: Array<[string, Template]> = []
  const names = Object.keys(route.userProperties ?? {})
  if (names.length > MAX_ROUTE_USER_PROPERTIES)
    fail(['userProperties'], `has ${names.length} properties; at most ${MAX_ROUTE_USER_PROPERTIES}`)
  else
    for (const name of names) {
      const raw = route.userProperties![name]
      const text = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined
      if (text === undefined) {
        fail(['userProperties', name], `must be a template (text), such as \${userProperties.site}, got ${describeValue(raw)}`)
        continue
      }
      // The names go out as written; the text's fixed parts must be sendable too (its values are checked per message).
      const bad = mqttStringProblem(name) ?? forbiddenCharacter(text)
      if (bad) {
        fail(['userProperties', name], bad)
        continue
      }
      const template = parseTemplate(text)
      if (!template.ok) fail(['userProperties', name], template.reason)
      else userProperties.push([name, template.value])
    }
  if (!fine || !parsedTopic.ok) return undefined
  const topic = parsedTopic.value
  return {
    conditions,
    topic,
    ...(route.qos !== undefined ? { qos: route.qos } : {}),
    ...(route.retain !== undefined ? { retain: route.retain } : {}),
    userProperties,
    readsBody:
      conditions.some((c) => c.field.kind === 'body') ||
      topic.levels.some((l) => readsBody(l)) ||
      userProperties.some(([, t]) => readsBody(t)),
    anyParent: topic.parent === undefined,
  }
}

/** Which of its rule's routes a message took (its position in `routes`), or the rule's target. */
export type RouteTaken = number | 'target'

/** Where one message goes: the topic, QoS, retain flag and route user properties of its route or target. */
export interface Destination {
  kind: 'publish'
  route: RouteTaken
  topic: string
  qos: QoS
  retain: boolean
  /** MQTT 5 user properties the route adds, in the order it lists them. */
  userProperties?: Array<[string, string]>
}

/** No route accepts the message and the rule says `unmatched: skip`: neither published nor dead-lettered. */
export interface Filtered {
  kind: 'filtered'
  reason: string
}

/** What choosing a destination needs of a rule: its compiled routes and its target (model.ts has them). */
export interface RoutingRule {
  id: string
  routes: CompiledRoute[]
  unmatched: 'target' | 'skip'
  target: { parentTopic: string; parentLevels: number; qos: QoS; retain: boolean }
}

/**
 * Where one message goes within its rule: the first route whose `when` accepts it, else the rule's target,
 * or nowhere when the rule says `unmatched: skip`; or why it cannot go (the payload and MQTT 5 properties are
 * the mapping's, shared/mapping/map-message.ts). `fields` reads the message; it is given when the rule has routes.
 */
export function destinationOf(
  rule: RoutingRule,
  userProperties: Record<string, string>,
  fields: FieldReader | undefined,
  profile: Profile,
): Result<Destination | Filtered> {
  // A loop, not findIndex: no closure per message (the bundle keeps function names, which costs per closure).
  let index = -1
  if (fields)
    for (let k = 0; k < rule.routes.length; k++)
      if (accepts(rule.routes[k]!.conditions, fields)) {
        index = k
        break
      }
  // A filtered message is none of the bridge's business: its properties are not checked.
  if (index === -1 && rule.unmatched === 'skip')
    return ok({ kind: 'filtered', reason: `no route of rule ${quote(rule.id)} accepts it, and the rule says unmatched: skip` })
  let destination: Destination
  if (index !== -1) {
    const d = routed(rule.routes[index]!, index, fields!, rule.target, profile)
    if (!d.ok) return d
    destination = d.value
  } else {
    const topic = targetTopic(rule.target.parentTopic, userProperties['mqttSecondTopic'])
    const bad = fullTopicProblem(topic, rule.target.parentLevels, profile)
    if (bad) return refused(`userProperties.mqttSecondTopic: topic ${bad}`)
    destination = { kind: 'publish', route: 'target', topic, qos: rule.target.qos, retain: rule.target.retain }
  }
  // The producer's qoslevel wins, as on Alibaba's inbound rules; then the route's QoS, then the target's.
  const qosText = userProperties['qoslevel']
  if (qosText !== undefined) {
    if (qosText !== '0' && qosText !== '1' && qosText !== '2')
      return refused(`userProperties.qoslevel: must be 0, 1 or 2, got ${quote(qosText)}`)
    destination.qos = Number(qosText) as QoS
  }
  return ok(destination)
}

function routed(
  route: CompiledRoute,
  index: number,
  fields: FieldReader,
  target: { qos: QoS; retain: boolean },
  profile: Profile,
): Result<Destination> {
  const topic = renderTopic(route.topic, fields, profile)
  if (!topic.ok) return refused(`routes[${index}].topic: ${topic.reason}`)
  const destination: Destination = {
    kind: 'publish',
    route: index,
    topic: topic.value,
    qos: route.qos ?? target.qos,
    retain: route.retain ?? target.retain,
  }
  if (route.userProperties.length > 0) {
    const user: Array<[string, string]> = []
    for (const [name, template] of route.userProperties) {
      const value = renderText(template, fields)
      if (!value.ok) return refused(`routes[${index}].userProperties.${name}: ${value.reason}`)
      user.push([name, value.value])
    }
    destination.userProperties = user
  }
  return ok(destination)
}

/** Alibaba's mapping: `parentTopic` + `mqttSecondTopic`, a missing leading '/' added. */
function targetTopic(parent: string, second: string | undefined): string {
  if (second === undefined || second === '') return parent
  return parent + (second.startsWith('/') ? second : `/${second}`)
}
