// The sizes docs/architecture.md ("Sizes") promises a maintainer: code they can hold in their head. Lines are
// counted as `wc -l` counts them.

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const lines = (file: string) => readFileSync(join(root, file), 'utf8').split('\n').length - 1
const tsFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f))

test('the dead-letter code, hand-off and store together, is at most 2,000 lines', () => {
  const files = tsFiles('shared/dead-letters')
  assert.ok(files.some((f) => f.includes('handoff')) && files.some((f) => f.includes('store')), files.join(', '))
  const total = files.reduce((n, f) => n + lines(f), 0)
  assert.ok(total <= 2000, `shared/dead-letters/ is ${total} lines`)
})

test('no file of the publish window (the window, its scheduler, its acknowledgement ledger) is over 300 lines', () => {
  for (const f of ['publish-window.ts', 'scheduler.ts', 'ack-ledger.ts']) {
    const n = lines(`shared/mqtt/${f}`)
    assert.ok(n > 0 && n <= 300, `shared/mqtt/${f} is ${n} lines`)
  }
})
