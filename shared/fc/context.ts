// The documented Function Compute context (docs/platform-facts.md §6): what the functions read from it.
import type { FcLogger } from '../logging/logger.js'

export interface FcCredentials {
  accessKeyId: string
  accessKeySecret: string
  securityToken?: string
}

export interface FcContext {
  requestId: string
  credentials?: FcCredentials
  function?: { name?: string; handler?: string; memory?: number; timeout?: number }
  service?: { logProject?: string; logStore?: string; qualifier?: string; versionId?: string }
  region?: string
  accountId?: string
  logger?: FcLogger
}

/** Function Compute's default function timeout, used when the context does not say. */
const DEFAULT_TIMEOUT_S = 60

/**
 * When the invocation must be finished: start + the function's timeout, less a margin (10%, at most 2 s)
 * so that the bridge fails with its own clear error before Function Compute kills it.
 */
export function invocationDeadline(start: number, context: FcContext | undefined): number {
  const timeoutMs = (context?.function?.timeout ?? DEFAULT_TIMEOUT_S) * 1000
  return start + timeoutMs - Math.min(2000, timeoutMs * 0.1)
}
