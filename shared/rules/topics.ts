// Topic checks shared by the rules validator (parent topics) and the mapping (full topics).
import { forbiddenCharacter } from './mqtt-strings.js'
import type { Profile } from './profiles.js'

export function topicLength(topic: string, profile: Profile): number {
  return profile.name === 'mqtt' ? Buffer.byteLength(topic, 'utf8') : topic.length
}

/**
 * Problems common to every topic: wildcards, a leading `$`, and what MQTT 5 §1.5.4 forbids in any string (NUL,
 * lone surrogates, control characters, non-characters), on both protocol versions (docs/reliability.md).
 */
function basicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'is empty'
  if (topic.includes('+') || topic.includes('#')) return `contains a wildcard ('+' or '#'): ${quote(topic)}`
  const bad = forbiddenCharacter(topic)
  if (bad) return bad
  if (topic.startsWith('$')) return `starts with '$', which is reserved for the broker: ${quote(topic)}`
  return undefined
}

/** Why a parent topic is not valid in this profile, or undefined. */
export function parentTopicProblem(parent: string, profile: Profile): string | undefined {
  const basic = basicProblem(parent)
  if (basic) return basic
  if (profile.singleLevelParent && parent.includes('/'))
    return `must be a single level (no '/') in profile ${profile.name}: ${quote(parent)}`
  const levels = parent.split('/')
  if (levels.some((l) => l === '')) return `has an empty level: ${quote(parent)}`
  if (profile.levelPattern && !levels.every((l) => profile.levelPattern!.test(l))) {
    return `may contain only letters, digits, '-' and '_' in profile ${profile.name}: ${quote(parent)}`
  }
  const len = topicLength(parent, profile)
  if (len > profile.maxTopicLength)
    return `is ${len} characters long; profile ${profile.name} allows at most ${profile.maxTopicLength} for the whole topic`
  return undefined
}

/** Why a full topic (parent + subtopic) cannot be published in this profile, or undefined. */
export function fullTopicProblem(topic: string, parentLevels: number, profile: Profile): string | undefined {
  const basic = basicProblem(topic)
  if (basic) return basic
  const levels = topic.split('/')
  if (levels[levels.length - 1] === '') return `ends with '/': ${quote(topic)}`
  if (levels.some((l) => l === '')) return `has an empty level ('//'): ${quote(topic)}`
  if (profile.levelPattern) {
    for (let i = 0; i < levels.length; i++) {
      const isP2pClientId = i === parentLevels + 1 && levels[parentLevels] === 'p2p' && levels.length === parentLevels + 2
      const pattern = isP2pClientId ? profile.p2pClientIdPattern! : profile.levelPattern
      if (!pattern.test(levels[i]!)) {
        return `level ${quote(levels[i]!)} may contain only letters, digits, '-' and '_'${isP2pClientId ? " (and '@' in a p2p client ID)" : ''} in profile ${profile.name}`
      }
    }
  }
  const len = topicLength(topic, profile)
  if (len > profile.maxTopicLength)
    return `is ${len} ${profile.name === 'mqtt' ? 'bytes' : 'characters'} long; profile ${profile.name} allows at most ${profile.maxTopicLength}`
  if (len < profile.minTopicLength) return `is ${len} characters long; profile ${profile.name} needs at least ${profile.minTopicLength}`
  return undefined
}

/** Short, printable rendering of a value in an error message. */
export function quote(value: string, max = 80): string {
  const s = value.length > max ? `${value.slice(0, max)}…(${value.length} chars)` : value
  return JSON.stringify(s)
}
