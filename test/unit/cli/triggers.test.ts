// `npm run triggers [-- --check]` as a command, on temporary copies of s.yaml and rules.yaml.

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))

/** Runs scripts/cli/triggers.ts as `npm run triggers --` would (tsx), with the given arguments. */
function triggers(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/cli/triggers.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

function tempCopies(): { dir: string; rules: string; sYaml: string } {
  const dir = mkdtempSync(join(tmpdir(), 'triggers-'))
  const rules = join(dir, 'rules.yaml')
  const sYaml = join(dir, 's.yaml')
  copyFileSync(join(root, 'rules.yaml'), rules)
  copyFileSync(join(root, 's.yaml'), sYaml)
  return { dir, rules, sYaml }
}

describe('npm run triggers', () => {
  test('the committed s.yaml agrees with the committed rules.yaml', () => {
    const { rules, sYaml } = tempCopies()
    const r = triggers('--check', '--rules', rules, '--s-yaml', sYaml)
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /4 RocketMQ triggers agree/)
  })

  test('--check fails after a rule changes, and passes once the triggers are rewritten', () => {
    const { rules, sYaml } = tempCopies()
    const before = readFileSync(sYaml, 'utf8')
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('groupId: GID_bridge_home', 'groupId: GID_bridge_home_v2'))

    const drift = triggers('--check', '--rules', rules, '--s-yaml', sYaml)
    assert.equal(drift.status, 1)
    assert.match(
      drift.stderr,
      /rocketmq-home-lamps\.triggerConfig\.eventSourceConfig\.eventSourceParameters\.sourceRocketMQParameters\.GroupID: s\.yaml has "GID_bridge_home", the rules give "GID_bridge_home_v2"/,
    )
    assert.equal(readFileSync(sYaml, 'utf8'), before, '--check must not write')

    const write = triggers('--rules', rules, '--s-yaml', sYaml)
    assert.equal(write.status, 0, write.stderr)
    const after = readFileSync(sYaml, 'utf8')
    assert.notEqual(after, before)
    // Only the changed value moved; every other line (comments included) is as it was.
    const changed = after.split('\n').filter((line, i) => line !== before.split('\n')[i])
    assert.deepEqual(changed, ['                  GroupID: GID_bridge_home_v2'])

    const again = triggers('--check', '--rules', rules, '--s-yaml', sYaml)
    assert.equal(again.status, 0, again.stderr)
  })

  test('enabling the disabled rule adds a trigger that --check then accepts', () => {
    const { rules, sYaml } = tempCopies()
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('enabled: false', 'enabled: true'))
    assert.equal(triggers('--check', '--rules', rules, '--s-yaml', sYaml).status, 1)
    assert.equal(triggers('--rules', rules, '--s-yaml', sYaml).status, 0)
    assert.match(readFileSync(sYaml, 'utf8'), /triggerName: rocketmq-firmware-blobs/)
    assert.equal(triggers('--check', '--rules', rules, '--s-yaml', sYaml).status, 0)
  })

  test('invalid rules: every error as path: message, exit 1, s.yaml untouched', () => {
    const { rules, sYaml } = tempCopies()
    const before = readFileSync(sYaml, 'utf8')
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('parentTopic: home', 'parentTopic: "home/#"'))
    const r = triggers('--rules', rules, '--s-yaml', sYaml)
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^rules\[1\]\.target\.parentTopic: .*wildcard/m)
    assert.equal(readFileSync(sYaml, 'utf8'), before)
  })

  test('an unknown option is a usage error', () => {
    const r = triggers('--chek')
    assert.equal(r.status, 2)
    assert.match(r.stderr, /usage: npm run triggers/)
  })
})
