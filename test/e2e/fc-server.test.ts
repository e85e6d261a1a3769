// The local invoke server as a web page or a careless client would meet it: unsigned requests from a page
// (Origin) or through DNS rebinding (a foreign Host) refused; path, method and signature checked before the
// body is read; bodies bounded; the asynchronous queue bounded (429); Content-MD5 checked for empty bodies;
// the validate-rules HTTP trigger served with its real status and body; preStop run when it stops.

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import FCClient from '@alicloud/fc2'
import { buildAll } from '../../scripts/build.js'
import { readDeployment } from '../../scripts/local/deployment.js'
import { contentMd5 } from '../../scripts/local/fc-request-checks.js'
import { API_VERSION, type LocalFc, startLocalFc } from '../../scripts/local/fc-server.js'
import { LOCAL_ACCOUNT_ID } from '../../scripts/local/start-options.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const creds = { accessKeyId: 'TEST_KEY_ID', accessKeySecret: 'test-secret-per-run-9Qx2' }
const work = mkdtempSync(join(tmpdir(), 'fc-server-'))

// Test functions: one that waits until released (to fill the asynchronous queue), one that throws from its
// HTTP trigger, each with a preStop hook that leaves a mark.
const slowDir = join(work, 'slow')
const failDir = join(work, 'fail')
for (const [dir, body] of [
  [slowDir, 'await new Promise((r) => { (globalThis.__waiting ??= []).push(r) }); return "done"'],
  [failDir, 'throw new Error("the function broke")'],
] as const) {
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'index.js'),
    `exports.handler = async () => { ${body} }\nexports.preStop = async () => { require('fs').appendFileSync(${JSON.stringify(join(dir, 'stopped'))}, 'x') }\n`,
  )
}
const waiting = () => ((globalThis as { __waiting?: Array<() => void> }).__waiting ??= [])
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((r) => setTimeout(r, 5))
}

let fc: LocalFc
let open: LocalFc
let host: string

const invokePath = (name: string) => `/${API_VERSION}/functions/${name}/invocations`

/** A raw HTTP/1.1 exchange, so Host, Origin and a body that never finishes can be sent as a browser or an attacker would. */
function raw(port: number, head: string, body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    // An answer that only comes once the whole declared body is in never comes here: fail, do not hang.
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no answer to ${head.split('\n')[0]} while its body was still unsent:\n${got}`))
    }, 10_000)
    let got = ''
    s.on('data', (d) => {
      got += d.toString()
      const end = got.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(got)
      if (end >= 0 && length && got.length >= end + 4 + Number(length[1])) {
        clearTimeout(timer)
        s.destroy()
        resolve({ status: Number(got.split(' ')[1]), text: got.slice(end + 4) })
      }
    })
    s.on('error', reject)
    s.write(`${head.trim().replace(/\n/g, '\r\n')}\r\n\r\n${body}`)
  })
}

/** Headers signed as @alicloud/fc2 signs them, for `body` (what Content-MD5 covers); `extra` x-fc-* headers are signed too. */
function signed(method: string, path: string, body: Buffer | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { date: new Date().toUTCString(), 'content-type': 'application/octet-stream', ...extra }
  if (body !== undefined) headers['content-md5'] = contentMd5(body)
  headers['authorization'] = FCClient.getSignature(creds.accessKeyId, creds.accessKeySecret, method, path, headers, null)
  return headers
}

const headerLines = (h: Record<string, string>) =>
  Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')

function post(port: number, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': String(body.length) } })
    req.on('response', (res) => {
      let text = ''
      res.on('data', (d) => {
        text += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

before(async () => {
  if (!existsSync(join(root, 'dist/validate-rules/index.js'))) await buildAll({ quiet: true })
  const deployment = readDeployment(join(root, 's.yaml'), {}, LOCAL_ACCOUNT_ID)
  const validate = deployment.functions.find((f) => f.role === 'validate-rules')!
  const bridge = deployment.functions.find((f) => f.role === 'bridge')!
  const functions = [
    validate,
    { name: 'bridge-no-trigger', dir: bridge.dir },
    { name: 'slow', dir: slowDir, maxAsyncRetryAttempts: 0, preStop: 'index.preStop' },
    { name: 'fail', dir: failDir, preStop: 'index.preStop', httpTrigger: { methods: ['POST'], authType: 'function' } },
  ]
  fc = await startLocalFc({ functions, credentials: creds, asyncQueueLimit: 2, log: () => {} })
  open = await startLocalFc({ functions: [validate], credentials: creds, allowUnsigned: true, log: () => {} })
  host = new URL(open.url).host
})

after(async () => {
  for (const release of waiting().splice(0)) release()
  await open?.close()
  await fc?.close()
})

describe('unsigned requests: only from a program on this machine, never from a web page', () => {
  test('with no Origin and the listening address as Host, an unsigned request is served', async () => {
    const r = await raw(open.port, `POST /http/rocketmq-mqtt-validate-rules HTTP/1.1\nHost: ${host}\nContent-Length: 9`, 'rules: []')
    assert.equal(r.status, 200, r.text)
    assert.equal((JSON.parse(r.text) as { valid: boolean }).valid, true)
  })

  test('an Origin header (a page posting text/plain, which needs no CORS preflight) is refused', async () => {
    for (const path of [invokePath('rocketmq-mqtt-validate-rules'), '/http/rocketmq-mqtt-validate-rules']) {
      const r = await raw(
        open.port,
        `POST ${path} HTTP/1.1\nHost: ${host}\nOrigin: https://evil.example\nContent-Type: text/plain\nContent-Length: 2`,
        '{}',
      )
      assert.equal(r.status, 403, r.text)
      assert.equal((JSON.parse(r.text) as { ErrorCode: string }).ErrorCode, 'OriginNotAllowed')
    }
  })

  test('a Host other than the listening address (DNS rebinding) is refused, and says which Host is served', async () => {
    for (const other of ['evil.example', `evil.example:${open.port}`, `localhost:${open.port}`]) {
      const r = await raw(open.port, `POST /http/rocketmq-mqtt-validate-rules HTTP/1.1\nHost: ${other}\nContent-Length: 2`, '{}')
      assert.equal(r.status, 403, `${other}: ${r.text}`)
      const e = JSON.parse(r.text) as { ErrorCode: string; ErrorMessage: string }
      assert.equal(e.ErrorCode, 'HostNotAllowed')
      assert.ok(e.ErrorMessage.includes(`Host ${host}`), e.ErrorMessage)
    }
  })

  test('a signed request carrying Origin and another Host is verified instead, and served', async () => {
    const body = Buffer.from(JSON.stringify({ requestContext: { http: { method: 'POST' } }, body: 'rules: []' }))
    const path = invokePath('rocketmq-mqtt-validate-rules')
    const r = await post(open.port, path, { ...signed('POST', path, body), origin: 'https://evil.example', host: 'evil.example' }, body)
    assert.equal(r.status, 200)
    assert.equal((r.json as { statusCode: number }).statusCode, 200)
  })
})

describe('checks before the body is read; bounded bodies', () => {
  // Each answer arrives while the declared 30 MB body has not been sent: the server cannot have read it.
  const huge = 'Content-Length: 31457280'
  test('a path it does not serve: 404 before the body', async () => {
    const r = await raw(fc.port, `POST /2023-03-30/functions/x/other HTTP/1.1\nHost: ${new URL(fc.url).host}\n${huge}`, 'xxxx')
    assert.equal(r.status, 404)
  })

  test('a malformed % escape in the path: 400, not 500, on an invoke path and an HTTP trigger path alike', async () => {
    for (const path of [`/${API_VERSION}/functions/%zz/invocations`, '/http/%E0%A4%A/x']) {
      const r = await raw(fc.port, `POST ${path} HTTP/1.1\nHost: ${new URL(fc.url).host}\n${huge}`, 'xxxx')
      assert.equal(r.status, 400, `${path}: ${r.text}`)
      assert.match(r.text, /malformed % escape/)
    }
  })

  test('the wrong method: 405 before the body', async () => {
    const r = await raw(fc.port, `PUT ${invokePath('slow')} HTTP/1.1\nHost: ${new URL(fc.url).host}\n${huge}`, 'xxxx')
    assert.equal(r.status, 405)
  })

  test('no signature where one is required: 401 before the body; a forged one: 403', async () => {
    const target = new URL(fc.url).host
    assert.equal((await raw(fc.port, `POST ${invokePath('slow')} HTTP/1.1\nHost: ${target}\n${huge}`, 'xxxx')).status, 401)
    const forged = `Authorization: FC ${creds.accessKeyId}:Zm9yZ2Vk\nDate: ${new Date().toUTCString()}`
    assert.equal((await raw(fc.port, `POST ${invokePath('slow')} HTTP/1.1\nHost: ${target}\n${forged}\n${huge}`, 'xxxx')).status, 403)
  })

  test('a body declared over the limit: 413 before it is read (32 MB synchronous, 128 KB asynchronous)', async () => {
    const path = invokePath('slow')
    const sync = await raw(
      fc.port,
      `POST ${path} HTTP/1.1\nHost: x\n${headerLines(signed('POST', path, undefined))}\nContent-Length: 33554433`,
      'xx',
    )
    assert.equal(sync.status, 413, sync.text)
    const async = headerLines(signed('POST', path, undefined, { 'x-fc-invocation-type': 'Async' }))
    const big = await raw(fc.port, `POST ${path} HTTP/1.1\nHost: x\n${async}\nContent-Length: 131073`, 'xx')
    assert.equal(big.status, 413, big.text)
    assert.match(big.text, /131072-byte asynchronous limit/)
  })

  test('a body that grows past the limit without declaring its length (chunked): 413, nothing kept', async () => {
    const path = invokePath('slow')
    const async = headerLines(signed('POST', path, undefined, { 'x-fc-invocation-type': 'Async' }))
    const chunk = 'y'.repeat(64 * 1024)
    const chunks = Array.from({ length: 3 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('')
    const r = await raw(fc.port, `POST ${path} HTTP/1.1\nHost: x\n${async}\nTransfer-Encoding: chunked`, chunks)
    assert.equal(r.status, 413, r.text)
    assert.equal(waiting().length, 0, 'nothing was invoked')
  })
})

describe('signatures cover the body', () => {
  test('a signed request replayed with its body cut off is refused (Content-MD5 checked for an empty body too)', async () => {
    const path = invokePath('rocketmq-mqtt-validate-rules')
    const original = Buffer.from(JSON.stringify({ requestContext: { http: { method: 'POST' } }, body: 'rules: []' }))
    const headers = signed('POST', path, original)
    assert.equal((await post(fc.port, path, headers, original)).status, 200, 'the request as signed')
    const replayed = await post(fc.port, path, headers, Buffer.alloc(0))
    assert.equal(replayed.status, 400)
    assert.equal((replayed.json as { ErrorCode: string }).ErrorCode, 'InvalidDigest')
  })

  test('a signed body without Content-MD5 is refused: the signature would not cover it', async () => {
    const path = invokePath('rocketmq-mqtt-validate-rules')
    const r = await post(fc.port, path, signed('POST', path, undefined), Buffer.from('{"body":"smuggled"}'))
    assert.equal(r.status, 400)
    assert.match((r.json as { ErrorMessage: string }).ErrorMessage, /must carry Content-MD5/)
  })
})

describe('the asynchronous queue is bounded', () => {
  test('past the limit, an asynchronous invocation gets 429 until the queue drains', async () => {
    const path = invokePath('slow')
    const body = Buffer.from('{}')
    const send = () => post(fc.port, path, signed('POST', path, body, { 'x-fc-invocation-type': 'Async' }), body)
    assert.deepEqual([(await send()).status, (await send()).status], [202, 202])
    const third = await send()
    assert.equal(third.status, 429)
    assert.equal((third.json as { ErrorCode: string }).ErrorCode, 'ResourceThrottled')
    await until(() => waiting().length === 2)
    for (const release of waiting().splice(0)) release()
    await fc.settled()
    assert.equal((await send()).status, 202, 'room again once drained')
    await until(() => waiting().length === 1)
    for (const release of waiting().splice(0)) release()
    await fc.settled()
  })
})

describe('the validate-rules HTTP trigger at /http/<name>, as the deployed trigger URL answers', () => {
  const url = () => `${open.url}/http/rocketmq-mqtt-validate-rules`

  test('invalid rules: HTTP 422 with every error and its path, not 200 with an escaped string', async () => {
    const res = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'rules: [{id: x}]' })
    assert.equal(res.status, 422)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const body = (await res.json()) as { valid: boolean; errors: Array<{ path: string; message: string }> }
    assert.equal(body.valid, false)
    assert.ok(
      body.errors.some((e) => e.path.startsWith('rules[0]')),
      JSON.stringify(body.errors),
    )
  })

  test('the project rules.yaml: 200 with the normalised rules; ?preview with an event: the publishes', async () => {
    const rules = readFileSync(join(root, 'rules.yaml'), 'utf8')
    const ok = await fetch(url(), { method: 'POST', body: rules })
    assert.equal(ok.status, 200)
    assert.equal(((await ok.json()) as { valid: boolean }).valid, true)
    const event = JSON.parse(readFileSync(join(root, 'test/fixtures/rocketmq-stream-batch.json'), 'utf8')) as unknown
    const preview = await fetch(`${url()}?preview`, { method: 'POST', body: JSON.stringify({ rules, event }) })
    assert.equal(preview.status, 200)
    const p = ((await preview.json()) as { preview: { publishes: Array<{ topic: string }> } }).preview
    assert.deepEqual(
      p.publishes.map((x) => x.topic),
      ['home/room1/lamp'],
    )
  })

  test('a method the trigger does not take: 405 with Allow: POST; a function without an HTTP trigger: 404', async () => {
    const get = await fetch(url(), { method: 'GET' })
    assert.equal(get.status, 405)
    assert.equal(get.headers.get('allow'), 'POST')
    const none = await post(
      fc.port,
      '/http/bridge-no-trigger',
      signed('POST', '/http/bridge-no-trigger', Buffer.from('x')),
      Buffer.from('x'),
    )
    assert.equal(none.status, 404)
  })

  test('a function that throws behind its HTTP trigger: 502 with its error, not a 200', async () => {
    const r = await post(fc.port, '/http/fail', signed('POST', '/http/fail', Buffer.from('x')), Buffer.from('x'))
    assert.equal(r.status, 502)
    assert.equal((r.json as { errorMessage: string }).errorMessage, 'the function broke')
  })
})

describe('preStop', () => {
  test('runs, when the server stops, for every function instance that started, and only for those', async () => {
    const server = await startLocalFc({
      functions: [
        { name: 'ran', dir: failDir, preStop: 'index.preStop' },
        { name: 'idle', dir: slowDir, preStop: 'index.preStop' },
      ],
      credentials: creds,
      log: () => {},
    })
    const path = invokePath('ran')
    await post(server.port, path, signed('POST', path, Buffer.from('{}')), Buffer.from('{}'))
    const marks = (dir: string) => (existsSync(join(dir, 'stopped')) ? readFileSync(join(dir, 'stopped'), 'utf8') : '')
    const before = [marks(failDir), marks(slowDir)]
    await server.close()
    assert.deepEqual([marks(failDir).length - before[0]!.length, marks(slowDir).length - before[1]!.length], [1, 0])
  })
})
