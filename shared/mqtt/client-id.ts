// Client IDs: <prefix>@@@<instance token><member>. Two connections with one ID kick each other off
// (docs/platform-facts.md §3), so IDs are unique across concurrent instances and pool members.
import { randomInt } from 'node:crypto'

export const MAX_CLIENT_ID_LENGTH = 64
/** Alibaba's Group ID: GID_ or GID-, then letters, digits, '-' or '_'; 7-64 characters. */
export const GROUP_ID = /^GID[_-][A-Za-z0-9_-]{3,60}$/
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const TOKEN_LENGTH = 10

/** 10 random characters (about 51 bits): a collision between instances is negligible. */
export function instanceToken(): string {
  let out = ''
  for (let i = 0; i < TOKEN_LENGTH; i++) out += ALPHABET[randomInt(ALPHABET.length)]
  return out
}

export function clientId(prefix: string, token: string, member: number): string {
  return `${prefix}@@@${token}${member.toString(36)}`
}

/** Why a client ID is not valid, or undefined. */
export function clientIdProblem(id: string, requireGroupId: boolean): string | undefined {
  if (id.length > MAX_CLIENT_ID_LENGTH) return `is ${id.length} characters; at most ${MAX_CLIENT_ID_LENGTH}`
  const [group, device, ...rest] = id.split('@@@')
  if (device === undefined || rest.length > 0) return "must be <GroupID>@@@<DeviceID>, with '@@@' once"
  if (!/^[A-Za-z0-9_-]+$/.test(group!) || !/^[A-Za-z0-9_-]+$/.test(device))
    return "may contain only letters, digits, '-' and '_' around '@@@'"
  if (requireGroupId && !GROUP_ID.test(group!)) return 'must start with a Group ID (GID_ or GID-, 7-64 characters)'
  return undefined
}
