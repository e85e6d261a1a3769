// A route's topic template: split into MQTT topic levels at rule load and checked against the profile
// (parseTopicTemplate): no wildcard or NUL in its literal text or defaults, no empty level, every placeholder
// but ${mqttSecondTopic} inside one level, and in profile alibaba a written-out parent topic. Rendered per
// message (renderTopic), each value checked against the level it fills as the template wrote it: in
// profile alibaba letters, digits, '-' and '_', '@' only in a client-ID level after a written-out `p2p`
// (docs/rules.md, "Templates").
import { ok, type Result, refused } from '../errors.js'
import type { FieldReader } from './fields.js'
import { forbiddenCharacter } from './mqtt-strings.js'
import type { Profile } from './profiles.js'
import { isPlaceholder, NoValue, type Part, type Placeholder, parseTemplate, placeholderValue } from './template.js'
import { fullTopicProblem, parentTopicProblem, quote, topicLength } from './topics.js'

export interface TopicLevel {
  parts: Part[]
  /** The level of `${mqttSecondTopic}`, which fills zero or more levels as the rule's target does. */
  subtopic: boolean
  /**
   * What every character of a value filling this level must match in the profile (alibaba: letters, digits,
   * '-' and '_'; in the client-ID level of a written-out `<parent>/p2p/<clientId>`, '@' too).
   */
  pattern?: RegExp
}

/** A placeholder of a render by concatenation, with the pattern of the level it fills. */
export interface FlatPlaceholder {
  placeholder: Placeholder
  pattern?: RegExp
}

export interface TopicTemplate {
  source: string
  levels: TopicLevel[]
  /** Without ${mqttSecondTopic}: the parts in one list, '/' inside the literal text, for a render by concatenation. */
  flat?: Array<string | FlatPlaceholder>
  /** The first level when it is written out: the MQTT parent topic. */
  parent?: string
  /**
   * In a profile where `<parent>/p2p/<clientId>` means point-to-point (alibaba): the second level is filled
   * by a placeholder other than ${mqttSecondTopic}, so a value `p2p` must be refused there.
   */
  guardsP2p: boolean
}

/** The topic template, or why it is not valid in this profile. */
export function parseTopicTemplate(source: string, profile: Profile): Result<TopicTemplate> {
  const parsed = parseTemplate(source)
  if (!parsed.ok) return parsed
  const levels: Part[][] = [[]]
  for (const part of parsed.value.parts) {
    if (isPlaceholder(part)) {
      levels[levels.length - 1]!.push(part)
      continue
    }
    part.split('/').forEach((text, k) => {
      if (k > 0) levels.push([])
      if (text !== '') levels[levels.length - 1]!.push(text)
    })
  }
  if (levels.some((l) => l.length === 0)) return refused(`has an empty level (a leading '/', '//' or a trailing '/'): ${quote(source)}`)
  const first = levels[0]!
  const parent = first.length === 1 && typeof first[0] === 'string' ? first[0] : undefined
  if (profile.singleLevelParent && parent === undefined)
    return refused(
      `must begin with a written-out parent topic, such as alarms/\${userProperties.site}: profile ${profile.name} needs the parent topic created in the MQTT instance beforehand, and a producer must not choose it`,
    )
  if (parent !== undefined) {
    const bad = parentTopicProblem(parent, profile)
    if (bad) return refused(`parent topic ${bad}`)
  }
  const out: TopicLevel[] = []
  for (let i = 0; i < levels.length; i++) {
    const parts = levels[i]!
    const isP2pClientId = i === 2 && levels.length === 3 && parent !== undefined && levels[1]!.length === 1 && levels[1]![0] === 'p2p'
    const pattern = isP2pClientId ? profile.p2pClientIdPattern : profile.levelPattern
    const subtopic = parts.some((p) => isPlaceholder(p) && p.field.kind === 'mqttSecondTopic')
    if (subtopic && parts.length > 1)
      return refused(`\${mqttSecondTopic} fills whole topic levels: put it on its own between two /, such as devices/\${mqttSecondTopic}`)
    for (const p of parts) {
      const bad = isPlaceholder(p) ? fallbackProblem(p, parts.length === 1, pattern, profile) : literalProblem(p, i === 0, pattern, profile)
      if (bad) return refused(bad)
    }
    out.push({ parts, subtopic, ...(pattern ? { pattern } : {}) })
  }
  if (out.every((l) => l.parts.every((p) => typeof p === 'string'))) {
    const bad = fullTopicProblem(source, 1, profile)
    if (bad) return refused(`topic ${bad}`)
  } else {
    const shortest = out.map((l) => l.parts.filter((p): p is string => typeof p === 'string').join('')).join('/')
    const len = topicLength(shortest, profile)
    if (len > profile.maxTopicLength)
      return refused(
        `is ${len} ${profile.name === 'mqtt' ? 'bytes' : 'characters'} long before any placeholder is filled in; profile ${profile.name} allows at most ${profile.maxTopicLength}`,
      )
  }
  const flat = out.some((l) => l.subtopic) ? undefined : flatten(out)
  const second = out[1]
  const guardsP2p = profile.p2pClientIdPattern !== undefined && second !== undefined && !second.subtopic && second.parts.some(isPlaceholder)
  return ok({ source, levels: out, ...(flat ? { flat } : {}), ...(parent !== undefined ? { parent } : {}), guardsP2p })
}

function flatten(levels: TopicLevel[]): Array<string | FlatPlaceholder> {
  const flat: Array<string | FlatPlaceholder> = []
  const text = (t: string) => {
    const last = flat[flat.length - 1]
    if (typeof last === 'string') flat[flat.length - 1] = last + t
    else flat.push(t)
  }
  levels.forEach((level, i) => {
    if (i > 0) text('/')
    for (const part of level.parts) {
      if (typeof part === 'string') text(part)
      else flat.push({ placeholder: part, ...(level.pattern ? { pattern: level.pattern } : {}) })
    }
  })
  return flat
}

function literalProblem(text: string, atStart: boolean, pattern: RegExp | undefined, profile: Profile): string | undefined {
  if (text.includes('+') || text.includes('#'))
    return `can produce a wildcard: its text ${quote(text)} contains '${text.includes('+') ? '+' : '#'}'`
  const bad = forbiddenCharacter(text)
  if (bad) return `text ${quote(text)} ${bad}`
  if (atStart && text.startsWith('$')) return `starts with '$', which is reserved for the broker: ${quote(text)}`
  if (pattern && !pattern.test(text)) return `text ${quote(text)} may contain only letters, digits, '-' and '_' in profile ${profile.name}`
  return undefined
}

/** A default must itself be a valid level (or, for ${mqttSecondTopic}, valid levels). */
function fallbackProblem(p: Placeholder, alone: boolean, pattern: RegExp | undefined, profile: Profile): string | undefined {
  const value = p.fallback
  if (value === undefined) return undefined
  const where = `${p.text}: the default ${quote(value)}`
  if (p.field.kind === 'mqttSecondTopic') {
    if (value === '') return undefined
    for (const level of (value.startsWith('/') ? value.slice(1) : value).split('/')) {
      if (level === '') return `${where} has an empty level`
      const bad = levelValueProblem(level, pattern, profile)
      if (bad) return `${where} ${bad}`
    }
    return undefined
  }
  if (value === '') return alone ? `${where} would leave an empty topic level` : undefined
  if (value.includes('/')) return `${where} contains '/': a placeholder fills one topic level`
  const bad = levelValueProblem(value, pattern, profile)
  return bad ? `${where} ${bad}` : undefined
}

/** Why a value cannot fill (part of) one topic level, or undefined. Shared with the rendering of each message. */
export function levelValueProblem(value: string, pattern: RegExp | undefined, profile: Profile): string | undefined {
  if (value.includes('/')) return "contains '/': a placeholder fills one topic level"
  if (value.includes('+') || value.includes('#')) return `contains a wildcard ('${value.includes('+') ? '+' : '#'}'), which no topic may`
  if (value.startsWith('$')) return "starts with '$', which is reserved for the broker"
  const bad = forbiddenCharacter(value)
  if (bad) return bad
  if (pattern && !pattern.test(value)) return `has a character other than letters, digits, '-' and '_' (profile ${profile.name})`
  return undefined
}

/**
 * Whether a value may fill (part of) a level: the level's pattern when the profile has one (which leaves out
 * '/', wildcards, '$' and every control character), else no '/' and no leading '$' (the whole topic is then
 * checked for wildcards and forbidden characters). An empty value is a default's (`${x:-}`) beside other text.
 */
const fits = (v: string, pattern: RegExp | undefined): boolean =>
  pattern ? v === '' || pattern.test(v) : !v.includes('/') && !v.startsWith('$')

const P2P_REFUSED =
  "is 'p2p' in the second level: that would make a point-to-point message to one client; the p2p form is allowed only where the template writes p2p itself"

/**
 * The topic for this message. The fast path checks each value as it goes in, against its level's pattern,
 * and the assembled topic once as a whole, as the rule's target's is; only a topic that fails is looked at
 * placeholder by placeholder, to name the culprit.
 */
export function renderTopic(t: TopicTemplate, fields: FieldReader, profile: Profile): Result<string> {
  let topic = ''
  if (t.flat) {
    // Joined, not appended piece by piece: V8 reads a left-leaning chain of concatenations more slowly.
    const pieces: string[] = []
    for (const part of t.flat) {
      if (typeof part === 'string') {
        pieces.push(part)
        continue
      }
      const v = placeholderValue(part.placeholder, fields)
      if (v instanceof NoValue) return refused(v.reason)
      if (!fits(v, part.pattern))
        return refused(`${part.placeholder.text} is ${quote(v)}, which ${levelValueProblem(v, part.pattern, profile)}`)
      pieces.push(v)
    }
    topic = pieces.join('')
  } else {
    for (const level of t.levels) {
      if (level.subtopic) {
        const p = level.parts[0] as Placeholder
        const v = placeholderValue(p, fields)
        if (v instanceof NoValue) return refused(v.reason)
        // As the rule's target takes it: a leading '/' is optional; an empty value adds no level.
        const sub = v.startsWith('/') ? v.slice(1) : v
        if (sub === '') continue
        if (sub.startsWith('$') || sub.includes('/$'))
          return refused(`${p.text} is ${quote(v)}: a level of it starts with '$', which is reserved for the broker`)
        topic = topic === '' ? sub : `${topic}/${sub}`
        continue
      }
      let text = ''
      for (const part of level.parts) {
        if (typeof part === 'string') {
          text += part
          continue
        }
        const v = placeholderValue(part, fields)
        if (v instanceof NoValue) return refused(v.reason)
        if (!fits(v, level.pattern)) return refused(`${part.text} is ${quote(v)}, which ${levelValueProblem(v, level.pattern, profile)}`)
        text += v
      }
      topic = topic === '' ? text : `${topic}/${text}`
    }
  }
  if (t.guardsP2p && secondLevel(topic) === 'p2p') return refused(`${secondLevelText(t)} ${P2P_REFUSED}`)
  const bad = fullTopicProblem(topic, 1, profile)
  return bad ? refused(culprit(t, fields, profile) ?? `topic ${bad}`) : ok(topic)
}

function secondLevel(topic: string): string | undefined {
  const start = topic.indexOf('/')
  if (start === -1) return undefined
  const end = topic.indexOf('/', start + 1)
  return topic.slice(start + 1, end === -1 ? undefined : end)
}

/** The second level as the template writes it, for the reason. */
const secondLevelText = (t: TopicTemplate): string => t.levels[1]!.parts.map((p) => (typeof p === 'string' ? p : p.text)).join('')

/** The first placeholder whose value cannot fill its level, named with the value; undefined if none is to blame. */
function culprit(t: TopicTemplate, fields: FieldReader, profile: Profile): string | undefined {
  for (const level of t.levels) {
    for (const part of level.parts) {
      if (typeof part === 'string') continue
      const v = placeholderValue(part, fields)
      if (v instanceof NoValue) continue
      if (level.subtopic) {
        const sub = v.startsWith('/') ? v.slice(1) : v
        for (const piece of sub === '' ? [] : sub.split('/')) {
          const bad = piece === '' ? 'has an empty level' : levelValueProblem(piece, undefined, profile)
          if (bad) return `${part.text} is ${quote(v)}: ${piece === '' ? bad : `its level ${quote(piece)} ${bad}`}`
        }
        continue
      }
      const bad = levelValueProblem(v, level.pattern, profile)
      if (bad) return `${part.text} is ${quote(v)}, which ${bad}`
    }
  }
  return undefined
}
