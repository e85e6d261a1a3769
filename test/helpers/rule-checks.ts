// Checks of a rule set through the one validator, as the route tests ask them: every error, exactly one
// error at a path, or valid.
import assert from 'node:assert/strict'
import type { ProblemAt } from '../../shared/errors.js'
import type { RuleSet } from '../../shared/rules/schema.js'
import { validateRules } from '../../shared/rules/validate.js'
import type { RawRule } from './factories.js'

const check = (rules: RawRule[], defaults?: Record<string, unknown>) => validateRules({ ...(defaults ? { defaults } : {}), rules })

/** Every error of an invalid rule set; fails the test when the set is valid. */
export function errorsOf(rules: RawRule[], defaults?: Record<string, unknown>): ProblemAt[] {
  const r = check(rules, defaults)
  assert.equal(r.ok, false, 'expected the rule set to be invalid')
  return r.ok ? [] : r.errors
}

/** Exactly one error, at `path`, whose message contains every fragment. */
export function assertOnlyError(rules: RawRule[], path: string, fragments: string[], defaults?: Record<string, unknown>): void {
  const errors = errorsOf(rules, defaults)
  assert.equal(errors.length, 1, `expected exactly one error, got ${JSON.stringify(errors)}`)
  assert.equal(errors[0]!.path, path)
  for (const f of fragments)
    assert.ok(errors[0]!.message.includes(f), `${JSON.stringify(errors[0]!.message)} should contain ${JSON.stringify(f)}`)
}

export function assertValid(rules: RawRule[], defaults?: Record<string, unknown>): RuleSet {
  const r = check(rules, defaults)
  assert.ok(r.ok, `expected valid, got ${r.ok ? '' : JSON.stringify(r.errors)}`)
  return r.ruleSet
}
