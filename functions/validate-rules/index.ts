// Function Compute entry point (HTTP trigger): validates a rule set, or previews what the bridge would
// publish for an event. Thin by design; the behaviour is in respond.ts and the shared modules.
import { loadValidateRulesConfig } from '../../shared/config/validate-rules.js'
import { messageOf } from '../../shared/errors.js'
import type { FcContext } from '../../shared/fc/context.js'
import { type HttpResponse, jsonResponse } from '../../shared/fc/http-event.js'
import { invocationLogger } from '../../shared/logging/logger.js'
import { respond } from './respond.js'

export async function handler(event: unknown, context?: FcContext): Promise<HttpResponse> {
  const started = Date.now()
  const { log } = invocationLogger(loadValidateRulesConfig(process.env).logLevel, context)
  let response: HttpResponse
  try {
    response = respond(event)
  } catch (err) {
    // Unexpected: say so without echoing the request, which may hold anything.
    const error = err instanceof Error ? `${err.name}: ${err.message}` : messageOf(err)
    log.error({ event: 'validate-rules.error', requestId: context?.requestId ?? null, error })
    return jsonResponse(500, { error: 'internal error while validating the rules', requestId: context?.requestId ?? null })
  }
  log.info({
    event: 'validate-rules.request',
    requestId: context?.requestId ?? null,
    statusCode: response.statusCode,
    durationMs: Date.now() - started,
  })
  return response
}
