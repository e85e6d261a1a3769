// The documentation's links: every relative Markdown link in README.md, docs/*.md and examples/README.md
// points at a file that exists in the repository, and a #fragment at a heading of that file (GitHub's
// slugs). Also the README's promises to a newcomer: at most 400 lines, and the two commands.

import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))

const docFiles = [
  'README.md',
  'examples/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
]

/** The text with fenced code blocks blanked out, line for line, so that line numbers still match. */
function withoutFences(text: string): string {
  let fence: string | undefined
  return text
    .split('\n')
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1]
      if (fence === undefined && marker) {
        fence = marker[0]!.repeat(marker.length)
        return ''
      }
      if (fence !== undefined) {
        if (marker?.startsWith(fence)) fence = undefined
        return ''
      }
      return line
    })
    .join('\n')
}

/** GitHub's heading anchors: lowercase; letters, digits, marks, `_`, `-` and spaces kept; spaces -> `-`. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a file offers: one per heading, repeats numbered -1, -2, … as GitHub does. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const line of withoutFences(text).split('\n')) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)
    if (!m) continue
    const base = slug(m[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

interface Link {
  line: number
  target: string
}

/** Inline links and images, outside code blocks and code spans. */
function links(text: string): Link[] {
  // Code spans become spaces of the same length (newlines kept), so positions and line numbers hold.
  const prose = withoutFences(text).replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ' '))
  const out: Link[] = []
  for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const line = prose.slice(0, m.index).split('\n').length
    out.push({ line, target: m[1]! })
  }
  return out
}

const cache = new Map<string, Set<string>>()
function anchorsOf(path: string): Set<string> {
  let a = cache.get(path)
  if (!a) {
    a = anchors(readFileSync(path, 'utf8'))
    cache.set(path, a)
  }
  return a
}

/** What is wrong with one link, or undefined when it resolves. */
function problem(from: string, target: string): string | undefined {
  if (/^(https?:|mailto:)/i.test(target)) return undefined
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return 'only http(s): and mailto: links may leave the repository'
  if (target === '') return 'empty link'
  const hash = target.indexOf('#')
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash))
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
  if (pathPart.startsWith('/')) return 'absolute paths do not resolve on GitHub or in a clone; use a relative path'
  const file = pathPart === '' ? join(root, from) : resolve(dirname(join(root, from)), pathPart)
  const inRepo = relative(root, file)
  if (inRepo.startsWith('..')) return `points outside the repository (${inRepo}), which is not beside a user's clone`
  if (!existsSync(file)) return `${inRepo} does not exist`
  if (fragment === undefined) return undefined
  if (!statSync(file).isFile() || !file.endsWith('.md')) return `#${fragment}: ${inRepo} is not a Markdown file with headings`
  if (!anchorsOf(file).has(fragment)) return `#${fragment}: no such heading in ${inRepo}`
  return undefined
}

describe('slug', () => {
  test('follows GitHub: lowercase, punctuation dropped, spaces to dashes, § dropped', () => {
    assert.equal(slug('§1 Data inbound rules'), '1-data-inbound-rules')
    assert.equal(slug('§8.1 Source parameters'), '81-source-parameters')
    assert.equal(slug("Mosquitto's Nagle setting"), 'mosquittos-nagle-setting')
    assert.equal(slug('Finding things in the logs (`s logs`)'), 'finding-things-in-the-logs-s-logs')
    assert.equal(slug('Warm single-message invocations: latency p50 / p99, ms'), 'warm-single-message-invocations-latency-p50--p99-ms')
    assert.equal(slug('Build, deploy, local run'), 'build-deploy-local-run')
    assert.equal(slug('DEAD_LETTER_TARGET'), 'dead_letter_target')
  })

  test('numbers repeated headings as GitHub does', () => {
    assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n### A\n')], ['a', 'a-1', 'a-2'])
  })
})

describe('links in the documentation', () => {
  test('the documentation files are all there', () => {
    for (const f of ['architecture', 'platform-facts', 'rules', 'deploying', 'operations', 'performance', 'reliability', 'development']) {
      assert.ok(docFiles.includes(`docs/${f}.md`), `docs/${f}.md is missing`)
    }
  })

  for (const file of docFiles) {
    test(`${file}: every relative link resolves, fragments included`, () => {
      const text = readFileSync(join(root, file), 'utf8')
      const found = links(text)
      const bad = found.flatMap(({ line, target }) => {
        const p = problem(file, target)
        return p === undefined ? [] : [`${file}:${line}: (${target}) ${p}`]
      })
      assert.deepEqual(bad, [])
    })
  }

  test('the link checker catches a missing file, a missing heading and a link outside the repository', () => {
    assert.match(problem('README.md', 'docs/nowhere.md') ?? '', /does not exist/)
    assert.match(problem('README.md', 'docs/rules.md#no-such-heading') ?? '', /no such heading/)
    assert.match(problem('docs/rules.md', '../../shared/DESIGN.md') ?? '', /outside the repository/)
    assert.equal(problem('docs/rules.md', '../README.md#two-commands'), undefined)
    assert.equal(problem('README.md', 'https://example.com/#anything'), undefined)
    assert.deepEqual(
      links('[a](x.md) `[b](y.md)` ![c](z.png "t")\n```\n[d](w.md)\n```\n').map((l) => l.target),
      ['x.md', 'z.png'],
    )
  })
})

describe('headings that code comments cite', () => {
  test('docs/architecture.md has the sections the code names', () => {
    const a = anchorsOf(join(root, 'docs/architecture.md'))
    for (const h of ['Packages', 'Rules', 'Mapping', 'Configuration', 'Validate-rules function', 'Dead-letter function', 'Known traps']) {
      assert.ok(a.has(slug(h)), `no heading "${h}" in docs/architecture.md`)
    }
  })

  test('docs/platform-facts.md numbers its sections §1 to §8', () => {
    const headings = withoutFences(readFileSync(join(root, 'docs/platform-facts.md'), 'utf8'))
      .split('\n')
      .filter((l) => /^## §\d/.test(l))
      .map((l) => Number(/§(\d+)/.exec(l)![1]))
    assert.deepEqual(headings, [1, 2, 3, 4, 5, 6, 7, 8])
  })
})

describe('README.md', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')

  test('is at most 400 lines', () => {
    const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)
    assert.ok(lines <= 400, `README.md has ${lines} lines; move reference material to docs/`)
  })

  test('shows the two commands', () => {
    assert.ok(readme.includes('npm ci && npm start'), 'README.md does not show `npm ci && npm start`')
    assert.ok(readme.includes('npm ci && npm test'), 'README.md does not show `npm ci && npm test`')
  })

  test('links every file in docs/', () => {
    for (const f of docFiles.filter((f) => f.startsWith('docs/'))) {
      assert.ok(readme.includes(`](${f})`), `README.md has no link to ${f}`)
    }
  })
})
