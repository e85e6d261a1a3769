// Redaction: the process's secrets, once each, and an invocation's own credentials in a child only.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { invocationLogger } from '../../../shared/logging/logger.js'
import { Secrets } from '../../../shared/logging/secrets.js'

describe('secrets', () => {
  test("a child masks its own values and its parent's; the parent never learns the child's", () => {
    const parent = new Secrets()
    parent.add('process-password')
    const child = parent.with('sts-token-value', undefined, 'abc')
    assert.equal(child.redact('process-password and sts-token-value and abc'), '*** and *** and abc')
    assert.equal(parent.redact('sts-token-value'), 'sts-token-value')
  })

  test("two invocations' loggers write through their own context logger and mask their own credentials", () => {
    const lines: Record<string, string[]> = { a: [], b: [] }
    const context = (id: 'a' | 'b') => ({
      requestId: id,
      credentials: { accessKeySecret: `secret-of-${id}`, securityToken: `token-of-${id}` },
      logger: { debug: () => {}, info: (m: string) => lines[id]!.push(m), warn: () => {}, error: () => {} },
    })
    const a = invocationLogger('info', context('a'))
    const b = invocationLogger('info', context('b'))
    a.log.info({ event: 'x', text: 'secret-of-a token-of-a' })
    b.log.info({ event: 'x', text: 'secret-of-b' })
    a.log.info({ event: 'y' })
    assert.deepEqual(lines.a, ['{"event":"x","text":"*** ***"}', '{"event":"y"}'])
    assert.deepEqual(lines.b, ['{"event":"x","text":"***"}'])
  })

  test('a secret with a quote, a backslash or a control character is masked in a JSON log line too', () => {
    const got: string[] = []
    const secret = 'pa"ss\\wo\nrd'
    const { log } = invocationLogger('info', {
      requestId: 'r',
      credentials: { securityToken: secret },
      logger: { debug: () => {}, info: (m) => got.push(m), warn: () => {}, error: () => {} },
    })
    log.info({ event: 'x', error: `refused with ${secret}` })
    assert.deepEqual(got, ['{"event":"x","error":"refused with ***"}'])
  })

  test('a secret inside a longer one leaves no tail of the longer one', () => {
    const s = new Secrets()
    s.add('abcd')
    const child = s.with('abcd-and-more-secret')
    assert.equal(child.redact('token abcd-and-more-secret'), 'token ***')
    assert.equal(child.redact('just abcd'), 'just ***')
  })

  test('below the level, nothing is written', () => {
    const got: string[] = []
    const { log } = invocationLogger('warn', {
      requestId: 'r',
      logger: { debug: () => {}, info: (m) => got.push(m), warn: (m) => got.push(m), error: () => {} },
    })
    log.info({ event: 'quiet' })
    log.warn({ event: 'loud' })
    assert.deepEqual(got, ['{"event":"loud"}'])
  })
})
