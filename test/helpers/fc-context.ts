// Function Compute's documented context (docs/platform-facts.md §6), with a logger that keeps every line.
import type { FcContext } from '../../shared/fc/context.js'

export interface TestContext extends FcContext {
  lines: string[]
}

export function fcContext(requestId: string, timeoutS = 30, extra: Partial<FcContext> = {}): TestContext {
  const lines: string[] = []
  const keep = (level: string) => (message: string) => {
    lines.push(`${level} ${message}`)
  }
  return {
    requestId,
    function: { name: 'rocketmq-mqtt-bridge', handler: 'index.handler', memory: 512, timeout: timeoutS },
    region: 'cn-hangzhou',
    accountId: '1234567890123456',
    logger: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') },
    lines,
    ...extra,
  }
}

/** The JSON log lines with the given `event`. */
export function logEvents(ctx: TestContext, event: string): Array<Record<string, unknown>> {
  return ctx.lines
    .map((l) => l.slice(l.indexOf(' ') + 1))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o['event'] === event)
}
