// The validate-rules function's behaviour (docs/architecture.md, "Validate-rules function"): one request in, one
// response out. Validation is the one shared validator; the preview is the bridge's own planning step.

import { previewEvent, utf8Text } from '../../shared/bridge/preview.js'
import { HttpEventError, messageOf, type ProblemAt } from '../../shared/errors.js'
import { type HttpResponse, jsonResponse, parseHttpEvent } from '../../shared/fc/http-event.js'
import { triggersForRules } from '../../shared/fc/triggers.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { parseRulesText, validateRules } from '../../shared/rules/validate.js'

export const MAX_BODY_BYTES = 1024 * 1024
/** A hostile body can yield thousands of errors; the first ones say what is wrong. */
export const MAX_ERRORS = 1000

const ALLOWED_PREVIEW_KEYS = new Set(['rules', 'event'])

export function respond(event: unknown): HttpResponse {
  let body: Buffer
  let preview: boolean
  try {
    const req = parseHttpEvent(event)
    if (req.method !== 'POST') {
      return jsonResponse(
        405,
        { error: `method ${req.method} is not allowed: POST a rule set (YAML or JSON), or POST ?preview with {"rules": …, "event": …}` },
        { allow: 'POST' },
      )
    }
    body = req.readBody(MAX_BODY_BYTES)
    preview = Object.hasOwn(req.query, 'preview')
  } catch (err) {
    if (err instanceof HttpEventError) return jsonResponse(err.statusCode, { error: err.message })
    throw err
  }
  const text = utf8Text(body)
  if (text === undefined) return badRequest([{ path: '(body)', message: 'is not valid UTF-8' }])
  if (text.trim() === '')
    return badRequest([
      { path: '(body)', message: preview ? 'is empty: POST {"rules": …, "event": …}' : 'is empty: POST a rule set (YAML or JSON)' },
    ])
  return preview ? previewResponse(text) : validateResponse(text)
}

function validateResponse(text: string): HttpResponse {
  const parsed = safely(() => parseRulesText(text))
  if (!parsed.ok) return badRequest(parsed.errors)
  const result = validateRules(parsed.value)
  if (!result.ok) return invalid(result.errors)
  // The parent topics come from the rule model, routes' included: each must exist in the MQTT instance.
  return jsonResponse(200, {
    valid: true,
    ...normalised(result.ruleSet),
    triggers: triggersForRules(result.ruleSet),
    parentTopics: result.model.parentTopics,
  })
}

function previewResponse(text: string): HttpResponse {
  const parsed = parseBody(text)
  if (!parsed.ok) return badRequest(parsed.errors)
  const value = parsed.value
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return badRequest([{ path: '(body)', message: 'must be an object {"rules": …, "event": …}' }])
  }
  const problems: ProblemAt[] = []
  for (const key of ['rules', 'event']) if (!Object.hasOwn(value, key)) problems.push({ path: key, message: 'is required' })
  for (const key of Object.keys(value))
    if (!ALLOWED_PREVIEW_KEYS.has(key))
      problems.push({ path: key, message: `unknown key ${JSON.stringify(key)}; expected rules and event` })
  if (problems.length > 0) return badRequest(problems)
  const { rules, event } = value as { rules: unknown; event: unknown }

  // Rules may be the rules document itself or its YAML/JSON text; either way, the one validator decides.
  let rulesValue: unknown = rules
  if (typeof rules === 'string') {
    const parsedRules = safely(() => parseRulesText(rules))
    if (!parsedRules.ok) return badRequest(parsedRules.errors.map((e) => ({ ...e, path: `rules: ${e.path}` })))
    rulesValue = parsedRules.value
  }
  const result = validateRules(rulesValue)
  if (!result.ok) return invalid(result.errors.map((e) => ({ ...e, path: `rules: ${e.path}` })))
  return jsonResponse(200, { valid: true, preview: previewEvent(event, result.ruleSet) })
}

/** The rules as the bridge uses them: every default filled in. */
function normalised(set: RuleSet): { defaults: Record<string, unknown>; rules: RuleSet['rules'] } {
  return {
    defaults: { profile: set.profile, qos: set.defaultQos, ...(set.defaultTrigger ? { trigger: set.defaultTrigger } : {}) },
    rules: set.rules,
  }
}

/** A preview body is normally JSON, as the bridge's events are; YAML is accepted too. */
function parseBody(text: string): { ok: true; value: unknown } | { ok: false; errors: ProblemAt[] } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return safely(() => parseRulesText(text))
  }
}

/** Pathological input (nesting deep enough to exhaust the stack) is an unparsable body, not a crash. */
function safely<T>(parse: () => T | { ok: false; errors: ProblemAt[] }): T | { ok: false; errors: ProblemAt[] } {
  try {
    return parse()
  } catch (err) {
    return { ok: false, errors: [{ path: '(document)', message: `cannot be parsed: ${messageOf(err)}` }] }
  }
}

function badRequest(errors: ProblemAt[]): HttpResponse {
  return jsonResponse(400, { valid: false, errors: capped(errors) })
}

function invalid(errors: ProblemAt[]): HttpResponse {
  return jsonResponse(422, { valid: false, errors: capped(errors) })
}

function capped(errors: ProblemAt[]): ProblemAt[] {
  if (errors.length <= MAX_ERRORS) return errors
  return [...errors.slice(0, MAX_ERRORS), { path: '(more)', message: `${errors.length - MAX_ERRORS} more errors not shown` }]
}
