// A message made from a rule for one of its outlets (a route, or the target): its filter's fields set to
// values it accepts, every placeholder filled with `smoke-<token>` so it lands where no device listens.
// `npm run smoke` and `npm start` send them; whether the bridge takes that outlet, the caller asks the preview.
import { deadlineOf } from '../../shared/mapping/deadline.js'
import type { CompiledRule, FilterShape, Outlet } from '../../shared/rules/model.js'
import type { RuleSet } from '../../shared/rules/schema.js'

export interface OutletSample {
  tag: string | undefined
  keys: string | undefined
  userProperties: Record<string, string>
  /** JSON when the outlet reads the body, else undefined (the caller picks a text). */
  body: string | undefined
}

/** Names the run, and fits every profile's level pattern. */
const fillValue = (token: string): string => `smoke-${token}`

/** A message for `outlet` of `rule`, or why none can be made from the rules alone. */
export function outletSample(
  rule: CompiledRule,
  outlet: Outlet,
  ruleSet: Pick<RuleSet, 'defaultDeadline'>,
  token: string,
  now = Date.now(),
): { ok: true; value: OutletSample } | { ok: false; reason: string } {
  const values = new Map<string, string | undefined>()
  for (const f of outlet.filters) {
    const v = filterValue(f, rule, token)
    if (!v.ok) return v
    values.set(f.field, v.value)
  }
  const fill = fillValue(token)
  for (const level of outlet.levels)
    for (const p of level.placeholders) {
      if (values.has(p.field)) {
        if (values.get(p.field) === undefined && p.default === undefined)
          return { ok: false, reason: `${p.field} fills ${level.text} but the filter wants it absent` }
        continue
      }
      if (p.field === 'mqttSecondTopic') values.set(p.field, `/smoke/${token}`)
      else if (p.field === 'tags' && rule.tags !== '*') values.set(p.field, [...rule.tags][0])
      else if (p.field === 'topic' || p.field === 'messageId')
        continue // the event's own
      else values.set(p.field, fill)
    }
  let tag = values.get('tags')
  if (tag === undefined && rule.tags !== '*') tag = [...rule.tags][0]
  if (tag !== undefined && rule.tags !== '*' && !rule.tags.has(tag))
    return { ok: false, reason: `its filter wants the tag ${tag}, which the rule's source.tags (${rule.rule.source.tags}) never delivers` }
  const userProperties: Record<string, string> = { mqttSecondTopic: `/smoke/${token}` }
  const body: Record<string, unknown> = {}
  let readsBody = outlet.readsBody
  for (const [field, value] of values) {
    if (field === 'mqttSecondTopic' && value !== undefined) userProperties['mqttSecondTopic'] = value
    else if (field.startsWith('userProperties.')) {
      if (value !== undefined) userProperties[field.slice('userProperties.'.length)] = value
      else delete userProperties[field.slice('userProperties.'.length)]
    } else if (field.startsWith('body.')) {
      readsBody = true
      if (value !== undefined && !setPath(body, field.slice('body.'.length).split('.'), value))
        return { ok: false, reason: `${field} cannot be set beside the body's other fields` }
    }
  }
  const deadline = deadlineOf(rule.rule, ruleSet.defaultDeadline, outlet.kind === 'target' ? 'target' : Number(outlet.name.slice(7, -1)))
  if (deadline?.from !== undefined) userProperties[deadline.from] = String(now)
  const keys = values.get('keys')
  return {
    ok: true,
    value: { tag, keys, userProperties, body: readsBody ? JSON.stringify({ ...body, smokeTest: token }) : undefined },
  }
}

function filterValue(
  f: FilterShape,
  rule: CompiledRule,
  token: string,
): { ok: true; value: string | undefined } | { ok: false; reason: string } {
  const t = f.test
  switch (t.kind) {
    case 'equals':
      return { ok: true, value: t.value }
    case 'oneOf': {
      // A tag the rule's source delivers, where the filter is on tags.
      const v = f.field === 'tags' && rule.tags !== '*' ? t.values.find((x) => (rule.tags as Set<string>).has(x)) : t.values[0]
      return v === undefined
        ? { ok: false, reason: `none of ${f.field}'s values is a tag the rule's source delivers` }
        : { ok: true, value: v }
    }
    case 'prefix':
      return { ok: true, value: `${t.prefix}${fillValue(token)}` }
    case 'exists':
      return { ok: true, value: t.present ? fillValue(token) : undefined }
  }
}

/** Sets `value` at `path` in `o`, making objects on the way; false where a step is already a value. */
function setPath(o: Record<string, unknown>, path: string[], value: string): boolean {
  let at = o
  for (const step of path.slice(0, -1)) {
    const next = at[step]
    if (next === undefined) at[step] = {}
    else if (typeof next !== 'object' || next === null) return false
    at = at[step] as Record<string, unknown>
  }
  const last = path[path.length - 1]!
  if (typeof at[last] === 'object') return false
  at[last] = value
  return true
}

/** How a user gives the message by hand: the flags of `npm run smoke` for this outlet's filter. */
export function handHint(outlet: Outlet): string {
  const body = outlet.filters.filter((f) => f.field.startsWith('body.')).map((f) => f.field.slice(5))
  const props = outlet.filters.filter((f) => f.field.startsWith('userProperties.')).map((f) => f.field.slice(15))
  const parts = [
    ...(body.length > 0 || outlet.readsBody
      ? [`--body '{…}' with ${body.length > 0 ? body.join(', ') : 'the fields its topic reads'}`]
      : []),
    ...props.map((p) => `--property ${p}=…`),
  ]
  return parts.length > 0 ? parts.join(' and ') : '--body and --property'
}
