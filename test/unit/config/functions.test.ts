// The dead-letter and validate-rules functions' own environment schemas.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadDeadLetterConfig } from '../../../shared/config/dead-letter.js'
import { loadValidateRulesConfig } from '../../../shared/config/validate-rules.js'
import { ConfigError } from '../../../shared/errors.js'

describe('dead-letter function configuration', () => {
  test('defaults, and every variable read', () => {
    assert.deepEqual(loadDeadLetterConfig({}), {
      dir: './.dead-letters',
      logLevel: 'info',
      retentionDays: 30,
      redrive: { maxAgeMs: 24 * 3_600_000, backoffMs: 5 * 60_000, bridgeFunction: 'rocketmq-mqtt-bridge' },
    })
    assert.deepEqual(
      loadDeadLetterConfig({
        DEAD_LETTER_DIR: '/mnt/auto/dl',
        LOG_LEVEL: 'debug',
        DEAD_LETTER_RETENTION_DAYS: '7',
        DEAD_LETTER_REDRIVE_MAX_AGE: '3d',
        DEAD_LETTER_REDRIVE_BACKOFF: '90s',
        DEAD_LETTER_BRIDGE_FUNCTION: 'my-bridge',
        FC_ENDPOINT: 'http://127.0.0.1:9000/',
      }),
      {
        dir: '/mnt/auto/dl',
        logLevel: 'debug',
        retentionDays: 7,
        redrive: { maxAgeMs: 3 * 86_400_000, backoffMs: 90_000, bridgeFunction: 'my-bridge', endpoint: 'http://127.0.0.1:9000' },
      },
    )
    assert.equal(loadDeadLetterConfig({ DEAD_LETTER_REDRIVE_MAX_AGE: '0' }).redrive.maxAgeMs, 0, '0 turns redrive off')
  })

  test('bad retention and redrive settings are refused, each naming its variable', () => {
    for (const [env, message] of [
      [{ DEAD_LETTER_RETENTION_DAYS: '0' }, /DEAD_LETTER_RETENTION_DAYS: must be a whole number from 1 to 3650/],
      [{ DEAD_LETTER_REDRIVE_MAX_AGE: '1 day' }, /DEAD_LETTER_REDRIVE_MAX_AGE: must be a duration such as 90s, 30m, 24h or 7d, or 0/],
      [{ DEAD_LETTER_REDRIVE_BACKOFF: '0' }, /DEAD_LETTER_REDRIVE_BACKOFF: must be a duration/],
      [
        { DEAD_LETTER_RETENTION_DAYS: '2', DEAD_LETTER_REDRIVE_MAX_AGE: '3d' },
        /DEAD_LETTER_REDRIVE_MAX_AGE: must be shorter than DEAD_LETTER_RETENTION_DAYS/,
      ],
      [{ FC_ENDPOINT: 'http://user:pw@host/path' }, /FC_ENDPOINT: must be a bare origin/],
    ] as const)
      assert.throws(
        () => loadDeadLetterConfig(env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        JSON.stringify(env),
      )
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
