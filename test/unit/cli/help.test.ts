// Every command this project's operators and developers run answers --help: exit 0, the usage first.

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))

const COMMANDS: Array<[string, string]> = [
  ['scripts/cli/preflight.ts', 'npm run preflight'],
  ['scripts/cli/logs.ts', 'npm run logs'],
  ['scripts/cli/smoke.ts', 'npm run smoke'],
  ['scripts/cli/triggers.ts', 'npm run triggers'],
  ['scripts/cli/validate.ts', 'npm run validate'],
  ['scripts/cli/replay.ts', 'npm run replay'],
  ['scripts/build.ts', 'npm run build'],
  ['scripts/local/start.ts', 'npm start'],
  ['scripts/local/invoke.ts', 'npx tsx scripts/local/invoke.ts'],
  ['scripts/bench/bench.ts', 'npm run bench'],
]

describe('--help', () => {
  for (const [file, usage] of COMMANDS) {
    test(`${file}`, () => {
      for (const flag of ['--help', '-h']) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, file), flag], { cwd: root, encoding: 'utf8', timeout: 30_000 })
        assert.equal(r.status, 0, `${flag}: ${r.stderr}`)
        assert.ok(r.stdout.startsWith(`usage: ${usage}`), r.stdout)
      }
    })
  }
})
