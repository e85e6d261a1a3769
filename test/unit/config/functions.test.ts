// The dead-letter and validate-rules functions' own environment schemas.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadDeadLetterConfig } from '../../../shared/config/dead-letter.js'
import { loadValidateRulesConfig } from '../../../shared/config/validate-rules.js'
import { ConfigError } from '../../../shared/errors.js'

describe('dead-letter function configuration', () => {
  test('defaults, and every variable read', () => {
    assert.deepEqual(loadDeadLetterConfig({}), { dir: './.dead-letters', logLevel: 'info' })
    assert.deepEqual(loadDeadLetterConfig({ DEAD_LETTER_DIR: '/mnt/auto/dl', LOG_LEVEL: 'debug' }), {
      dir: '/mnt/auto/dl',
      logLevel: 'debug',
    })
  })

  test('a bad LOG_LEVEL is refused with the variable named, before anything is cast', () => {
    assert.throws(
      () => loadDeadLetterConfig({ LOG_LEVEL: 'verbose' }),
      (err: unknown) => err instanceof ConfigError && /LOG_LEVEL: must be debug, info, warn or error/.test(err.message),
    )
  })
})

describe('validate-rules function configuration', () => {
  test('LOG_LEVEL is read, not hard-coded', () => {
    assert.equal(loadValidateRulesConfig({}).logLevel, 'info')
    assert.equal(loadValidateRulesConfig({ LOG_LEVEL: 'error' }).logLevel, 'error')
    assert.throws(() => loadValidateRulesConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL: must be/)
  })
})
