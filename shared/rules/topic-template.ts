// A route's topic template, split into MQTT topic levels at rule load and checked against the profile:
// no wildcard or NUL in its literal text or defaults, no empty level, every placeholder but
// ${mqttSecondTopic} inside one level, and in profile alibaba a written-out parent topic (docs/rules.md,
// "Templates"). What a message fills in is checked when it is rendered (shared/mapping/template.ts).
import { forbiddenCharacter } from './mqtt-strings.js'
import type { Profile } from './profiles.js'
import { isPlaceholder, type Part, type Placeholder, parseTemplate } from './template.js'
import { fullTopicProblem, parentTopicProblem, quote, topicLength } from './topics.js'

export interface TopicLevel {
  parts: Part[]
  /** The level of `${mqttSecondTopic}`, which fills zero or more levels as the rule's target does. */
  subtopic: boolean
  /** What every character of this level must match in the profile (alibaba's letters, digits, '-' and '_'). */
  pattern?: RegExp
}

export interface TopicTemplate {
  source: string
  levels: TopicLevel[]
  /** Without ${mqttSecondTopic}: the parts in one list, '/' inside the literal text, for a render by concatenation. */
  flat?: Part[]
  /** The first level when it is written out: the MQTT parent topic. */
  parent?: string
}

/** The topic template, or why it is not valid in this profile. */
export function parseTopicTemplate(source: string, profile: Profile): TopicTemplate | string {
  const parsed = parseTemplate(source)
  if (typeof parsed === 'string') return parsed
  const levels: Part[][] = [[]]
  for (const part of parsed.parts) {
    if (isPlaceholder(part)) {
      levels[levels.length - 1]!.push(part)
      continue
    }
    part.split('/').forEach((text, k) => {
      if (k > 0) levels.push([])
      if (text !== '') levels[levels.length - 1]!.push(text)
    })
  }
  if (levels.some((l) => l.length === 0)) return `has an empty level (a leading '/', '//' or a trailing '/'): ${quote(source)}`
  const first = levels[0]!
  const parent = first.length === 1 && typeof first[0] === 'string' ? first[0] : undefined
  if (profile.singleLevelParent && parent === undefined)
    return `must begin with a written-out parent topic, such as alarms/\${userProperties.site}: profile ${profile.name} needs the parent topic created in the MQTT instance beforehand`
  if (parent !== undefined) {
    const bad = parentTopicProblem(parent, profile)
    if (bad) return `parent topic ${bad}`
  }
  const out: TopicLevel[] = []
  for (let i = 0; i < levels.length; i++) {
    const parts = levels[i]!
    const isP2pClientId = i === 2 && levels.length === 3 && parent !== undefined && levels[1]!.length === 1 && levels[1]![0] === 'p2p'
    const pattern = isP2pClientId ? profile.p2pClientIdPattern : profile.levelPattern
    const subtopic = parts.some((p) => isPlaceholder(p) && p.field.kind === 'mqttSecondTopic')
    if (subtopic && parts.length > 1)
      return `\${mqttSecondTopic} fills whole topic levels: put it on its own between two /, such as devices/\${mqttSecondTopic}`
    for (const p of parts) {
      const problem = isPlaceholder(p)
        ? fallbackProblem(p, parts.length === 1, pattern, profile)
        : literalProblem(p, i === 0, pattern, profile)
      if (problem) return problem
    }
    out.push({ parts, subtopic, ...(pattern ? { pattern } : {}) })
  }
  if (out.every((l) => l.parts.every((p) => typeof p === 'string'))) {
    const bad = fullTopicProblem(source, 1, profile)
    if (bad) return `topic ${bad}`
  } else {
    const shortest = out.map((l) => l.parts.filter((p): p is string => typeof p === 'string').join('')).join('/')
    const len = topicLength(shortest, profile)
    if (len > profile.maxTopicLength)
      return `is ${len} ${profile.name === 'mqtt' ? 'bytes' : 'characters'} long before any placeholder is filled in; profile ${profile.name} allows at most ${profile.maxTopicLength}`
  }
  const flat = out.some((l) => l.subtopic) ? undefined : flatten(out)
  return { source, levels: out, ...(flat ? { flat } : {}), ...(parent !== undefined ? { parent } : {}) }
}

function flatten(levels: TopicLevel[]): Part[] {
  const flat: Part[] = []
  const text = (t: string) => {
    const last = flat[flat.length - 1]
    if (typeof last === 'string') flat[flat.length - 1] = last + t
    else flat.push(t)
  }
  levels.forEach((level, i) => {
    if (i > 0) text('/')
    for (const part of level.parts) {
      if (typeof part === 'string') text(part)
      else flat.push(part)
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
