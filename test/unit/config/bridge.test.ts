import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../../shared/config/bridge.js'
import { ConfigError } from '../../../shared/errors.js'

const base = { MQTT_URL: 'mqtt://127.0.0.1:1883' }

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    assert.ok(err instanceof ConfigError)
    return err.message
  }
  assert.fail('expected a ConfigError')
}

describe('configuration', () => {
  test('defaults', () => {
    const c = loadConfig(base)
    assert.deepEqual(c, {
      mqttUrl: 'mqtt://127.0.0.1:1883',
      protocol: 'auto',
      auth: { kind: 'none' },
      tls: { insecure: false },
      clientIdPrefix: 'GID_bridge',
      poolSize: 1,
      rateLimit: 0,
      publishTimeoutMs: 10000,
      maxInFlight: 20,
      deadLetterTarget: { kind: 'file', dir: './.dead-letters', ephemeral: false },
      logLevel: 'info',
    })
  })

  test('every variable parsed', () => {
    const c = loadConfig({
      MQTT_URL: 'wss://broker.example/mqtt',
      MQTT_PROTOCOL_VERSION: '4',
      MQTT_AUTH: 'password',
      MQTT_USERNAME: 'u',
      MQTT_PASSWORD: 'p4ss-word',
      MQTT_CLIENT_ID_PREFIX: 'GID-x_y',
      MQTT_POOL_SIZE: '4',
      MQTT_RATE_LIMIT: '0',
      MQTT_PUBLISH_TIMEOUT_MS: '2500',
      MQTT_MAX_IN_FLIGHT: '1',
      MQTT_MAX_PACKET_SIZE: '1024',
      RULES_FILE: '/etc/rules.yaml',
      DEAD_LETTER_TARGET: 'file:/mnt/nas/dl',
      DEAD_LETTER_DIR: '/mnt/nas/dl',
      LOG_LEVEL: 'debug',
    })
    assert.equal(c.protocol, 4)
    assert.deepEqual(c.auth, { kind: 'password', username: 'u', password: 'p4ss-word' })
    assert.equal(c.poolSize, 4)
    assert.equal(c.publishTimeoutMs, 2500)
    assert.equal(c.maxInFlight, 1)
    assert.equal(c.maxPacketSize, 1024)
    assert.equal(c.rulesFile, '/etc/rules.yaml')
    assert.deepEqual(c.deadLetterTarget, { kind: 'file', dir: '/mnt/nas/dl', ephemeral: false })
    assert.equal(c.logLevel, 'debug')
  })

  test('a file: target is ephemeral only on Function Compute and only under /tmp', () => {
    const fc = { ...base, FC_FUNCTION_NAME: 'rocketmq-mqtt-bridge' }
    const target = (env: Record<string, string>) => loadConfig(env).deadLetterTarget
    assert.deepEqual(target({ ...fc, DEAD_LETTER_TARGET: 'file:/tmp' }), { kind: 'file', dir: '/tmp', ephemeral: true })
    assert.deepEqual(target({ ...fc, DEAD_LETTER_TARGET: 'file:/tmp/dl' }), { kind: 'file', dir: '/tmp/dl', ephemeral: true })
    assert.deepEqual(target({ ...fc, DEAD_LETTER_TARGET: 'file:/tmpx/dl' }), { kind: 'file', dir: '/tmpx/dl', ephemeral: false })
    assert.deepEqual(target({ ...base, DEAD_LETTER_TARGET: 'file:/tmp/dl' }), { kind: 'file', dir: '/tmp/dl', ephemeral: false })
  })

  test('locally, the default file: target is DEAD_LETTER_DIR; on Function Compute, the dead-letter function', () => {
    assert.deepEqual(loadConfig({ ...base, DEAD_LETTER_DIR: '/data/dl' }).deadLetterTarget, {
      kind: 'file',
      dir: '/data/dl',
      ephemeral: false,
    })
    assert.deepEqual(loadConfig({ ...base, FC_FUNCTION_NAME: 'rocketmq-mqtt-bridge' }).deadLetterTarget, {
      kind: 'fc',
      functionName: 'rocketmq-mqtt-dead-letter',
    })
  })

  test("empty strings count as unset (s.yaml's env(X, ''))", () => {
    // Every variable the bridge reads but MQTT_URL, set to '': the result is exactly the defaults. A variable
    // read as '' would show here as a value (RULES_FILE: ''), a refusal (MQTT_POOL_SIZE: '' is no number, an
    // MQTT_PASSWORD with MQTT_AUTH none is refused) or another default (FC_FUNCTION_NAME '' is not Function Compute).
    const empty = Object.fromEntries(
      [
        'MQTT_PROTOCOL_VERSION',
        'MQTT_AUTH',
        'MQTT_USERNAME',
        'MQTT_PASSWORD',
        'MQTT_INSTANCE_ID',
        'MQTT_ACCESS_KEY_ID',
        'MQTT_ACCESS_KEY_SECRET',
        'MQTT_CLIENT_ID_PREFIX',
        'MQTT_POOL_SIZE',
        'MQTT_RATE_LIMIT',
        'MQTT_PUBLISH_TIMEOUT_MS',
        'MQTT_MAX_IN_FLIGHT',
        'MQTT_MAX_PACKET_SIZE',
        'MQTT_CA_FILE',
        'MQTT_TLS_INSECURE',
        'RULES_FILE',
        'DEAD_LETTER_TARGET',
        'DEAD_LETTER_DIR',
        'FC_ENDPOINT',
        'FC_FUNCTION_NAME',
        'LOG_LEVEL',
      ].map((name) => [name, '']),
    )
    // Exactly the defaults, as the test above pins them.
    assert.deepEqual(loadConfig({ ...base, ...empty }), loadConfig(base))
    // And an empty MQTT_URL is missing, not a URL.
    assert.match(problem({ MQTT_URL: '' }), /MQTT_URL: is required/)
  })

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['MQTT_URL missing', {}, /MQTT_URL: is required/],
    ['MQTT_URL not a URL', { MQTT_URL: 'broker:1883x' }, /MQTT_URL: must use mqtt:\/\//],
    ['MQTT_URL http', { MQTT_URL: 'http://x' }, /MQTT_URL: must use mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/, not http:\/\//],
    ['MQTT_URL with credentials', { MQTT_URL: 'mqtt://user:pw@x' }, /MQTT_URL: must not contain credentials/],
    ['MQTT_PROTOCOL_VERSION', { ...base, MQTT_PROTOCOL_VERSION: '3' }, /MQTT_PROTOCOL_VERSION: must be 5, 4 or auto/],
    ['MQTT_AUTH', { ...base, MQTT_AUTH: 'token' }, /MQTT_AUTH: must be none, password or signature/],
    ['MQTT_POOL_SIZE zero', { ...base, MQTT_POOL_SIZE: '0' }, /MQTT_POOL_SIZE: must be a whole number from 1 to 64/],
    ['MQTT_POOL_SIZE text', { ...base, MQTT_POOL_SIZE: 'two' }, /MQTT_POOL_SIZE: must be a whole number from 1 to 64/],
    ['MQTT_PUBLISH_TIMEOUT_MS', { ...base, MQTT_PUBLISH_TIMEOUT_MS: '1.5' }, /MQTT_PUBLISH_TIMEOUT_MS: must be a whole number/],
    ['MQTT_MAX_IN_FLIGHT zero', { ...base, MQTT_MAX_IN_FLIGHT: '0' }, /MQTT_MAX_IN_FLIGHT: must be a whole number from 1 to 65535/],
    [
      'MQTT_MAX_IN_FLIGHT too large',
      { ...base, MQTT_MAX_IN_FLIGHT: '65536' },
      /MQTT_MAX_IN_FLIGHT: must be a whole number from 1 to 65535/,
    ],
    [
      'MQTT_MAX_PACKET_SIZE too small',
      { ...base, MQTT_MAX_PACKET_SIZE: '10' },
      /MQTT_MAX_PACKET_SIZE: must be a whole number from 64 to 268435460/,
    ],
    ['MQTT_MAX_PACKET_SIZE text', { ...base, MQTT_MAX_PACKET_SIZE: '1 KB' }, /MQTT_MAX_PACKET_SIZE: must be a whole number/],
    ['MQTT_CLIENT_ID_PREFIX', { ...base, MQTT_CLIENT_ID_PREFIX: 'GID bad' }, /MQTT_CLIENT_ID_PREFIX: must be 1-40 letters/],
    ['DEAD_LETTER_TARGET', { ...base, DEAD_LETTER_TARGET: 's3://bucket' }, /DEAD_LETTER_TARGET: must be file:<dir> or fc:<function-name>/],
    ['LOG_LEVEL', { ...base, LOG_LEVEL: 'verbose' }, /LOG_LEVEL: must be debug, info, warn or error/],
    ['password auth without a user', { ...base, MQTT_AUTH: 'password' }, /MQTT_USERNAME: is required when MQTT_AUTH=password/],
    ['a password that would be ignored', { ...base, MQTT_PASSWORD: 'secret-value' }, /MQTT_PASSWORD: is set but MQTT_AUTH is none/],
  ]
  for (const [name, env, expected] of bad) {
    test(`bad value names the variable: ${name}`, () => {
      assert.match(problem(env), expected)
    })
  }

  test('several bad variables are reported together', () => {
    const msg = problem({ MQTT_URL: 'x', MQTT_POOL_SIZE: '0', LOG_LEVEL: 'loud' })
    assert.match(msg, /MQTT_URL/)
    assert.match(msg, /MQTT_POOL_SIZE/)
    assert.match(msg, /LOG_LEVEL/)
  })

  test('signature authentication takes its three variables', () => {
    const c = loadConfig({
      ...base,
      MQTT_AUTH: 'signature',
      MQTT_INSTANCE_ID: 'mqtt-cn-abc',
      MQTT_ACCESS_KEY_ID: 'LTAIid',
      MQTT_ACCESS_KEY_SECRET: 'the-secret',
    })
    assert.deepEqual(c.auth, { kind: 'signature', instanceId: 'mqtt-cn-abc', accessKeyId: 'LTAIid', accessKeySecret: 'the-secret' })
    const msg = problem({ ...base, MQTT_AUTH: 'signature', MQTT_ACCESS_KEY_ID: 'LTAIid' })
    assert.match(msg, /MQTT_INSTANCE_ID: is required when MQTT_AUTH=signature/)
    assert.match(msg, /MQTT_ACCESS_KEY_SECRET: is required when MQTT_AUTH=signature/)
  })

  // Settings that would be ignored are refused, never accepted and ignored.
  const ignored: Array<[string, Record<string, string>, RegExp]> = [
    [
      'access keys without signature auth',
      { MQTT_AUTH: 'password', MQTT_USERNAME: 'u', MQTT_ACCESS_KEY_SECRET: 'abcd-secret' },
      /MQTT_ACCESS_KEY_SECRET: is set but MQTT_AUTH is password; set MQTT_AUTH=signature/,
    ],
    [
      'a password with signature auth',
      {
        MQTT_AUTH: 'signature',
        MQTT_INSTANCE_ID: 'i',
        MQTT_ACCESS_KEY_ID: 'a',
        MQTT_ACCESS_KEY_SECRET: 'sss-secret',
        MQTT_PASSWORD: 'pw-value',
      },
      /MQTT_PASSWORD: is set but MQTT_AUTH is signature/,
    ],
    ['a CA file on plain mqtt://', { MQTT_CA_FILE: '/etc/ca.pem' }, /MQTT_CA_FILE: is set but MQTT_URL does not use TLS/],
    ['insecure TLS on plain mqtt://', { MQTT_TLS_INSECURE: 'true' }, /MQTT_TLS_INSECURE: is set but MQTT_URL does not use TLS/],
    [
      'a CA file with verification off',
      { MQTT_URL: 'mqtts://broker:8883', MQTT_CA_FILE: '/etc/ca.pem', MQTT_TLS_INSECURE: 'true' },
      /MQTT_CA_FILE: is set but MQTT_TLS_INSECURE=true turns certificate verification off/,
    ],
  ]
  for (const [name, env, expected] of ignored) {
    test(`refused: ${name}`, () => assert.match(problem({ ...base, ...env }), expected))
  }

  test('TLS trust: the CA file is read and checked at start-up; MQTT_TLS_INSECURE is true or false', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-'))
    const pem = join(dir, 'ca.pem')
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    const c = loadConfig({ MQTT_URL: 'mqtts://broker:8883', MQTT_CA_FILE: pem, MQTT_TLS_INSECURE: 'false' })
    assert.ok(c.tls.ca?.includes('BEGIN CERTIFICATE'))
    assert.equal(c.tls.insecure, false)
    assert.equal(loadConfig({ MQTT_URL: 'wss://broker/mqtt', MQTT_TLS_INSECURE: 'true' }).tls.insecure, true)
    assert.match(
      problem({ MQTT_URL: 'mqtts://broker:8883', MQTT_CA_FILE: join(dir, 'missing.pem') }),
      /MQTT_CA_FILE: cannot read .*missing\.pem: ENOENT/,
    )
    writeFileSync(join(dir, 'not.pem'), 'hello')
    assert.match(
      problem({ MQTT_URL: 'mqtts://broker:8883', MQTT_CA_FILE: join(dir, 'not.pem') }),
      /MQTT_CA_FILE: .*not\.pem holds no PEM certificate/,
    )
    assert.match(problem({ MQTT_URL: 'mqtts://broker:8883', MQTT_TLS_INSECURE: 'yes' }), /MQTT_TLS_INSECURE: must be true or false/)
  })

  test('MQTT_RATE_LIMIT', () => {
    assert.equal(loadConfig({ ...base, MQTT_RATE_LIMIT: '20' }).rateLimit, 20)
    assert.match(problem({ ...base, MQTT_RATE_LIMIT: '-5' }), /MQTT_RATE_LIMIT: must be a whole number/)
  })

  test('no secret value is ever echoed', () => {
    const msg = problem({
      ...base,
      MQTT_PASSWORD: 'hunter2-secret',
      MQTT_AUTH: 'none',
      MQTT_ACCESS_KEY_SECRET: 'ak-secret-value',
      MQTT_POOL_SIZE: 'hunter2-secret',
    })
    assert.ok(!msg.includes('hunter2-secret'), msg)
    assert.ok(!msg.includes('ak-secret-value'), msg)
  })
})
