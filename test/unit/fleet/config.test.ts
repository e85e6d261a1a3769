// The fleet store's variables (shared/config/fleet.ts) through the bridge's one environment schema.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../../shared/config/bridge.js'
import { ConfigError } from '../../../shared/errors.js'

const base = { MQTT_URL: 'mqtt://127.0.0.1:1883' }
const dir = mkdtempSync(join(tmpdir(), 'fleet-config-'))
const caFile = join(dir, 'ca.pem')
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')

function problem(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env })
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err.message
  }
  assert.fail('expected a ConfigError')
}

describe('fleet store configuration', () => {
  test('unset: no fleet store, and nothing else changes', () => {
    assert.equal('fleet' in loadConfig(base), false)
    // s.yaml's ${env(X, '')} means unset.
    assert.equal('fleet' in loadConfig({ ...base, FLEET_REDIS_URL: '', DUPLICATE_WINDOW: '', FLEET_RATE_LIMIT: '' }), false)
  })

  test('the URL, credentials, window and rate; the window defaults to 24h and the rate to none', () => {
    assert.deepEqual(loadConfig({ ...base, FLEET_REDIS_URL: 'redis://r-bp1.redis.rds.aliyuncs.com' }).fleet, {
      url: 'redis://r-bp1.redis.rds.aliyuncs.com',
      host: 'r-bp1.redis.rds.aliyuncs.com',
      port: 6379,
      db: 0,
      windowMs: 86_400_000,
      rateLimit: 0,
    })
    const c = loadConfig({
      ...base,
      FLEET_REDIS_URL: 'rediss://10.0.0.5:6380/3',
      FLEET_REDIS_USERNAME: 'bridge',
      FLEET_REDIS_PASSWORD: 's3cret-pass',
      FLEET_REDIS_CA_FILE: caFile,
      DUPLICATE_WINDOW: '90m',
      FLEET_RATE_LIMIT: '2000',
    })
    assert.deepEqual(
      { ...c.fleet, tls: { ...c.fleet!.tls, ca: c.fleet!.tls?.ca?.toString().slice(0, 27) } },
      {
        url: 'rediss://10.0.0.5:6380/3',
        host: '10.0.0.5',
        port: 6380,
        db: 3,
        tls: { ca: '-----BEGIN CERTIFICATE-----', insecure: false },
        username: 'bridge',
        password: 's3cret-pass',
        windowMs: 90 * 60_000,
        rateLimit: 2000,
      },
    )
    assert.deepEqual(loadConfig({ ...base, FLEET_REDIS_URL: 'rediss://h', FLEET_REDIS_TLS_INSECURE: 'true' }).fleet?.tls, {
      insecure: true,
    })
    assert.equal(loadConfig({ ...base, FLEET_REDIS_URL: 'redis://[::1]:7000/' }).fleet?.host, '::1')
  })

  test('durations: ms, s, m, h, d, from 1 s to 30 d', () => {
    const window = (v: string) => loadConfig({ ...base, FLEET_REDIS_URL: 'redis://h', DUPLICATE_WINDOW: v }).fleet!.windowMs
    assert.deepEqual(['1000ms', '1s', '15m', '24h', '30d'].map(window), [1000, 1000, 900_000, 86_400_000, 2_592_000_000])
    for (const bad of ['24', '0s', '999ms', '31d', '1.5h', '-1h', '24 h', '1w'])
      assert.match(
        problem({ FLEET_REDIS_URL: 'redis://h', DUPLICATE_WINDOW: bad }),
        /DUPLICATE_WINDOW: must be (a duration|from 1s to 30d)/,
        bad,
      )
  })

  test('a bad URL names the variable; credentials in it are refused and never echoed', () => {
    const leaked = problem({ FLEET_REDIS_URL: 'redis://default:hunter2-pass@10.0.0.5:6379' })
    assert.match(leaked, /FLEET_REDIS_URL: must not contain credentials; set FLEET_REDIS_USERNAME and FLEET_REDIS_PASSWORD instead/)
    assert.ok(!leaked.includes('hunter2-pass'))
    assert.match(problem({ FLEET_REDIS_URL: 'http://10.0.0.5:6379' }), /FLEET_REDIS_URL: must use redis:\/\/ or rediss:\/\/, not http:\/\//)
    assert.match(
      problem({ FLEET_REDIS_URL: 'r-bp1example:6379' }),
      /FLEET_REDIS_URL: must use redis:\/\/ or rediss:\/\/, not r-bp1example:\/\//,
    )
    assert.match(problem({ FLEET_REDIS_URL: 'not a url' }), /FLEET_REDIS_URL: must be a URL/)
    assert.match(problem({ FLEET_REDIS_URL: 'redis://h/db0' }), /FLEET_REDIS_URL: may end in \/<database number> and nothing else/)
    assert.match(problem({ FLEET_REDIS_URL: 'redis://h/0?tls=1' }), /FLEET_REDIS_URL: must not have a query or a fragment/)
  })

  test('a companion without FLEET_REDIS_URL is refused, each named, never silently ignored', () => {
    const message = problem({
      FLEET_REDIS_USERNAME: 'u',
      FLEET_REDIS_PASSWORD: 'p4ssword',
      DUPLICATE_WINDOW: '1h',
      FLEET_RATE_LIMIT: '10',
      FLEET_REDIS_CA_FILE: caFile,
      FLEET_REDIS_TLS_INSECURE: 'true',
    })
    for (const name of [
      'FLEET_REDIS_USERNAME',
      'FLEET_REDIS_PASSWORD',
      'DUPLICATE_WINDOW',
      'FLEET_RATE_LIMIT',
      'FLEET_REDIS_CA_FILE',
      'FLEET_REDIS_TLS_INSECURE',
    ])
      assert.match(message, new RegExp(`${name}: is set but FLEET_REDIS_URL is not`))
    assert.ok(!message.includes('p4ssword'))
  })

  test('TLS settings only with rediss://, never both, and the CA file readable PEM', () => {
    assert.match(
      problem({ FLEET_REDIS_URL: 'redis://h', FLEET_REDIS_CA_FILE: caFile }),
      /FLEET_REDIS_CA_FILE: is set but FLEET_REDIS_URL does not use TLS/,
    )
    assert.match(
      problem({ FLEET_REDIS_URL: 'rediss://h', FLEET_REDIS_CA_FILE: caFile, FLEET_REDIS_TLS_INSECURE: 'true' }),
      /FLEET_REDIS_CA_FILE: is set but FLEET_REDIS_TLS_INSECURE=true turns certificate verification off/,
    )
    assert.match(
      problem({ FLEET_REDIS_URL: 'rediss://h', FLEET_REDIS_CA_FILE: join(dir, 'none.pem') }),
      /FLEET_REDIS_CA_FILE: cannot read .*ENOENT/,
    )
    writeFileSync(join(dir, 'junk.pem'), 'junk')
    assert.match(problem({ FLEET_REDIS_URL: 'rediss://h', FLEET_REDIS_CA_FILE: join(dir, 'junk.pem') }), /holds no PEM certificate/)
    assert.match(
      problem({ FLEET_REDIS_URL: 'rediss://h', FLEET_REDIS_TLS_INSECURE: 'yes' }),
      /FLEET_REDIS_TLS_INSECURE: must be true or false/,
    )
  })

  test('FLEET_RATE_LIMIT is a whole number, 0 for none', () => {
    assert.equal(loadConfig({ ...base, FLEET_REDIS_URL: 'redis://h', FLEET_RATE_LIMIT: '0' }).fleet?.rateLimit, 0)
    for (const bad of ['-1', '1.5', 'ten', '1000001'])
      assert.match(
        problem({ FLEET_REDIS_URL: 'redis://h', FLEET_RATE_LIMIT: bad }),
        /FLEET_RATE_LIMIT: must be a whole number from 0 to 1000000/,
        bad,
      )
  })
})
