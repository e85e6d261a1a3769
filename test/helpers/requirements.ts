// Brokers (and the Redis of the fleet store) the tests start themselves. A suite that needs one that is not
// installed is skipped, visibly and with the reason; CI sets REQUIRE_MOSQUITTO=1, REQUIRE_RABBITMQ=1 and
// REQUIRE_REDIS=1 (.ci/run), so there a missing one fails the suite instead of skipping it.
import { findProgram } from '../../scripts/mqtt/mosquitto.js'

export { findProgram }

interface Requirement {
  programs: string[]
  variable: string
  install: string
}

const MOSQUITTO: Requirement = {
  programs: ['mosquitto', 'mosquitto_sub', 'mosquitto_pub', 'mosquitto_passwd'],
  variable: 'REQUIRE_MOSQUITTO',
  install: 'apt-get install -y mosquitto mosquitto-clients (Debian), brew install mosquitto (macOS)',
}
const RABBITMQ: Requirement = {
  programs: ['rabbitmq-server', 'rabbitmqctl', 'rabbitmq-plugins'],
  variable: 'REQUIRE_RABBITMQ',
  install: 'apt-get install -y rabbitmq-server',
}

const REDIS: Requirement = {
  programs: ['redis-server'],
  variable: 'REQUIRE_REDIS',
  install: 'apt-get install -y redis-server (Debian), brew install redis (macOS)',
}

function missing(r: Requirement): string[] {
  return r.programs.filter((p) => findProgram(p) === undefined)
}

/** node:test options for a suite: `describe(name, needsMosquitto(), …)`. */
function options(r: Requirement): { skip?: string } {
  const gone = missing(r)
  if (gone.length === 0 || process.env[r.variable] === '1') return {}
  return { skip: `${gone.join(', ')} not installed: ${r.install}; set ${r.variable}=1 to fail instead of skipping` }
}

export const needsMosquitto = () => options(MOSQUITTO)
export const needsRabbitMQ = () => options(RABBITMQ)
export const needsRedis = () => options(REDIS)
export const mosquittoInstalled = () => missing(MOSQUITTO).length === 0
export const rabbitmqInstalled = () => missing(RABBITMQ).length === 0
export const redisInstalled = () => missing(REDIS).length === 0

/** Throws, naming what to install, when a suite that must run (REQUIRE_…=1) lacks its broker. */
export function requirePrograms(which: 'mosquitto' | 'rabbitmq' | 'redis'): void {
  const r = { mosquitto: MOSQUITTO, rabbitmq: RABBITMQ, redis: REDIS }[which]
  const gone = missing(r)
  if (gone.length > 0)
    throw new Error(`these tests need ${gone.join(', ')}, which ${gone.length === 1 ? 'is' : 'are'} not installed: ${r.install}`)
}
