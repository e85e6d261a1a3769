// A rule's routes: an ordered list of {when, topic, qos?, retain?, userProperties?}. The schema, and the
// compilation both the validator (every problem, with its path) and the rule index (the compiled routes)
// use, so the two cannot disagree (docs/rules.md, "Routes: topic templates and filters").
import { z } from 'zod'
import type { ProblemAt } from '../errors.js'
import { formatPath } from '../errors.js'
import { error } from '../schema-helpers.js'
import { deadlineSchema } from './deadline.js'
import { type Condition, covers, describeValue, type Found, parseWhen } from './filter.js'
import { forbiddenCharacter, mqttStringProblem } from './mqtt-strings.js'
import type { Profile } from './profiles.js'
import { tagSet } from './tags.js'
import { parseTemplate, readsBody, type Template } from './template.js'
import { parseTopicTemplate, type TopicTemplate } from './topic-template.js'

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
      deadline: deadlineSchema.optional(),
      userProperties: mapping('must be a mapping of MQTT 5 user property names to templates').optional(),
    },
    error('must be a mapping with when and topic'),
  )
  .strict()

export type Route = z.infer<typeof routeSchema>

export interface CompiledRoute {
  conditions: Condition[]
  topic: TopicTemplate
  qos?: 0 | 1 | 2
  retain?: boolean
  userProperties: Array<[name: string, value: Template]>
  /** Whether its filter or templates read the JSON body: the body is parsed only for such routes. */
  readsBody: boolean
}

/** What the compilation needs of a rule; the full rule type lives in schema.ts, which imports this file. */
export interface RoutedRule {
  source: { tags: string }
  target: { bodyEncoding: 'utf8' | 'base64' }
  routes?: Route[]
  unmatched?: 'target' | 'skip'
}

/**
 * The rule's routes compiled, and every problem with them, with paths under `rules[i]`. A rule with
 * problems gets no compiled routes: the validator refuses it before the bridge could use them.
 */
export function compileRoutes(rule: RoutedRule, i: number, profile: Profile): { routes: CompiledRoute[]; problems: ProblemAt[] } {
  const problems: ProblemAt[] = []
  const at = (path: Array<string | number>, message: string) => problems.push({ path: formatPath(['rules', i, ...path]), message })
  const routes = (rule.routes ?? []).map((route, j) => compileRoute(route, profile, (path, message) => at(['routes', j, ...path], message)))
  if (rule.unmatched === 'skip' && routes.length === 0)
    at(['unmatched'], 'skip needs routes: without any, every message of the rule would be filtered out')
  const accepted = tagSet(rule.source.tags)
  routes.forEach((r, j) => {
    if (!r) return
    if (r.readsBody && rule.target.bodyEncoding === 'base64')
      at(['routes', j], 'reads the body (body.<path>), but target.bodyEncoding is base64: only a UTF-8 JSON body can be read')
    for (const c of r.conditions) {
      if (c.field.kind !== 'tags' || accepted === '*' || (c.test.kind !== 'equals' && c.test.kind !== 'oneOf')) continue
      const values = c.test.kind === 'equals' ? [c.test.value] : [...c.test.values]
      const never = values.filter((v) => !accepted.has(v))
      if (never.length > 0)
        at(
          ['routes', j, 'when', 'tags'],
          `tag ${JSON.stringify(never[0])} never reaches this rule: source.tags is ${JSON.stringify(rule.source.tags)}`,
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
  if (problems.length > 0) return { routes: [], problems }
  return { routes: routes as CompiledRoute[], problems }
}

function compileRoute(
  route: Route,
  profile: Profile,
  at: (path: Array<string | number>, message: string) => void,
): CompiledRoute | undefined {
  let ok = true
  const fail = (path: Array<string | number>, message: string) => {
    ok = false
    at(path, message)
  }
  const found: Found[] = []
  const conditions = parseWhen(route.when, found)
  for (const f of found) fail(['when', ...f.at], f.message)
  const topic = parseTopicTemplate(route.topic, profile)
  if (typeof topic === 'string') fail(['topic'], topic)
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
      if (typeof template === 'string') fail(['userProperties', name], template)
      else userProperties.push([name, template])
    }
  if (!ok || typeof topic === 'string') return undefined
  return {
    conditions,
    topic,
    ...(route.qos !== undefined ? { qos: route.qos } : {}),
    ...(route.retain !== undefined ? { retain: route.retain } : {}),
    userProperties,
    readsBody:
      conditions.some((c) => c.field.kind === 'body') ||
      topic.levels.some((l) => readsBody({ source: '', parts: l.parts })) ||
      userProperties.some(([, t]) => readsBody(t)),
  }
}

/** The written-out parent topics of a rule's routes (for the profile's limit on parent topics). */
export function routeParents(routes: CompiledRoute[]): string[] {
  return routes.flatMap((r) => (r.topic.parent !== undefined ? [r.topic.parent] : []))
}
