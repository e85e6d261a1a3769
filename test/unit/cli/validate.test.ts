// `npm run validate -- <rules-file> [--event <event.json>]` as a command.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: route templates are written as ${…} text, as in rules.yaml

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { main } from '../../../scripts/cli/validate.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const fixture = (name: string) => join(root, 'test/fixtures', name)

function validate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/cli/validate.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** main() with its output captured, for the cases that need no separate process. */
function run(...args: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [],
    err: string[] = []
  const code = main(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  )
  return { code, out, err }
}

describe('npm run validate', () => {
  test('valid rules: exit 0 and a one-line summary', () => {
    const r = validate('rules.yaml')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'rules.yaml: valid: 5 rules (4 enabled), profile alibaba')
  })

  test('invalid rules: each error as path: message, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-'))
    const file = join(dir, 'bad.yaml')
    writeFileSync(
      file,
      'rules:\n  - id: ab\n    source: {regionId: cn-hangzhou, instanceId: I, topic: t, groupId: GID_ok_1}\n    target: {parentTopic: "$sys"}\n',
    )
    const r = validate(file)
    assert.equal(r.status, 1)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines[0], `${file}: invalid (2 errors)`)
    assert.match(lines[1]!, /^rules\[0\]\.id: must be 3-64 characters/)
    assert.match(lines[2]!, /^rules\[0\]\.target\.parentTopic: starts with '\$'/)
  })

  test('--event prints the preview of the sample event', () => {
    const r = validate('rules.yaml', '--event', fixture('rocketmq-stream-batch.json'))
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^event: event-streaming, 1 entry: 1 publish, 0 dead letters, 0 duplicates, 0 filtered, 0 expired$/m)
    assert.match(
      r.stdout,
      /^\[0\] publish home\/room1\/lamp {2}qos 1 {2}retain false {2}4 bytes {2}rule home-lamps {2}route target {2}message AC14C305069E1B28CA003E5A7B5E0001$/m,
    )
  })

  test('--event with --json: the preview object; a message no rule takes is a dead letter with its reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-'))
    const file = join(dir, 'event.json')
    writeFileSync(file, JSON.stringify([{ topic: 'nobody-listens', body: 'x', systemProperties: { UNIQ_KEY: 'U1' } }]))
    const { code, out } = run('rules.yaml', '--event', file, '--json')
    assert.equal(code, 0)
    const p = JSON.parse(out.join('\n')) as {
      shape: string
      publishes: unknown[]
      deadLetters: Array<{ messageId: string; reason: string }>
    }
    assert.equal(p.shape, 'raw-data')
    assert.deepEqual(p.publishes, [])
    assert.deepEqual(p.deadLetters, [{ index: 0, messageId: 'U1', reason: 'no enabled rule for RocketMQ topic "nobody-listens"' }])
  })

  test('--help: usage, every flag, exit 0', () => {
    const { code, out } = run('--help')
    assert.equal(code, 0)
    const text = out.join('\n')
    assert.match(text, /^usage: npm run validate -- <rules-file> \[--event <event.json>\] \[--json\]/)
    for (const flag of ['--event', '--json', '--help']) assert.ok(text.includes(flag), flag)
  })

  test('--event with routes: the route per publish, filtered and dead-lettered messages in batch order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'validate-'))
    const rules = join(dir, 'rules.yaml')
    writeFileSync(
      rules,
      [
        'rules:',
        '  - id: sensors',
        '    source: {regionId: cn-hangzhou, instanceId: MQ_INST_1, topic: t, groupId: GID_sensors}',
        '    target: {parentTopic: sensors}',
        '    unmatched: skip',
        '    routes:',
        '      - when: {body.kind: alarm}',
        '        topic: alarms/${body.site}',
        '        qos: 2',
        '',
      ].join('\n'),
    )
    const event = join(dir, 'event.json')
    const entry = (id: string, body: unknown) => ({ topic: 't', systemProperties: { UNIQ_KEY: id }, body: JSON.stringify(body) })
    writeFileSync(
      event,
      JSON.stringify([entry('U1', { kind: 'alarm', site: 'hz' }), entry('U2', { kind: 'info' }), entry('U3', { kind: 'alarm' })]),
    )
    const { code, out } = run(rules, '--event', event)
    assert.equal(code, 0)
    assert.deepEqual(out, [
      'event: raw-data, 3 entries: 1 publish, 1 dead letter, 0 duplicates, 1 filtered, 0 expired',
      '[0] publish alarms/hz  qos 2  retain false  28 bytes  rule sensors  route routes[0]  message U1',
      '    payload: "{\\"kind\\":\\"alarm\\",\\"site\\":\\"hz\\"}"',
      '[1] filtered  rule sensors  message U2: no route accepts it (unmatched: skip)',
      '[2] dead letter  rule sensors  message U3: routes[0].topic: ${body.site} is missing and has no default (such as ${body.site:-unknown})',
    ])
  })

  test('usage errors exit 2; a missing file exits 1', () => {
    assert.equal(run().code, 2)
    assert.equal(run('a.yaml', 'b.yaml').code, 2)
    assert.equal(run('does-not-exist.yaml').code, 1)
    assert.equal(run('rules.yaml', '--event', 'does-not-exist.json').code, 1)
  })
})
