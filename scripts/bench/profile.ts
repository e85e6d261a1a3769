// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function, total
// (inclusive) time of the project's own functions, and time per package, so that the hot path's costs
// in shared/ and in MQTT.js can be named.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface FunctionCost {
  function: string
  where: string
  ms: number
  percent: number
}

export interface ProfileSummary {
  file: string
  /** Sampled time that was not idle. */
  busyMs: number
  /** Package or area -> self milliseconds (shared/, functions/, mqtt, mqtt-packet, zod, node:, gc, …). */
  areas: Array<{ area: string; ms: number; percent: number }>
  /** Top self time in the project's shared/ code. */
  sharedSelf: FunctionCost[]
  /** Top inclusive time in shared/ (a function and everything it called). */
  sharedTotal: FunctionCost[]
  /** Top self time in MQTT.js and the packages it brings (mqtt-packet, bl, readable-stream, …). */
  mqttSelf: FunctionCost[]
  /** Top self time anywhere. */
  overall: FunctionCost[]
}

const MQTT_PACKAGES = new Set([
  'mqtt',
  'mqtt-packet',
  'bl',
  'readable-stream',
  'process-nextick-args',
  'debug',
  'number-allocator',
  'rfdc',
  'worker-timers',
  'commist',
  'help-me',
  'split2',
  'minimist',
  'ws',
  'lru-cache',
  '@types/readable-stream',
  'buffer',
  'events',
  'string_decoder',
  'inherits',
  'safe-buffer',
  'util-deprecate',
])

function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return 'node:internal'
  const m = /\/(shared|functions|scripts)\/(.+)$/.exec(url)
  if (m) return m[1] === 'shared' ? `shared/${m[2]}` : m[1]!
  return url
}

function where(url: string, line: number): string {
  const nm = url.lastIndexOf('/node_modules/')
  const short =
    nm >= 0
      ? url.slice(nm + '/node_modules/'.length)
      : (/\/((?:shared|functions|scripts)\/.+)$/.exec(url)?.[1] ?? url.replace(/^file:\/\//, ''))
  return short ? `${short}:${line + 1}` : '(native)'
}

export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${where(n.callFrame.url, n.callFrame.lineNumber)}`
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const areas = new Map<string, number>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    const n = byId.get(id)
    if (!n) return
    const fn = n.callFrame.functionName
    if (fn === '(idle)') return
    busy += dt
    const k = keyOf(n)
    self.set(k, (self.get(k) ?? 0) + dt)
    const a = area(n.callFrame.url, fn)
    areas.set(a, (areas.get(a) ?? 0) + dt)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!
      const ck = keyOf(node)
      if (seen.has(ck)) continue
      seen.add(ck)
      total.set(ck, (total.get(ck) ?? 0) + dt)
    }
  })
  const cost = ([k, ms]: [string, number]): FunctionCost => {
    const [fn, at] = k.split('\u0000') as [string, string]
    return { function: fn, where: at, ms: Math.round(ms), percent: Math.round((ms / busy) * 1000) / 10 }
  }
  const ranked = (m: Map<string, number>, keep: (where: string) => boolean) =>
    [...m]
      .filter(([k]) => keep(k.split('\u0000')[1]!))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(cost)
  const isShared = (w: string) => w.startsWith('shared/')
  const isMqtt = (w: string) => MQTT_PACKAGES.has(w.split('/')[0]!)
  return {
    file,
    busyMs: Math.round(busy),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 16)
      .map(([a, ms]) => ({ area: a, ms: Math.round(ms), percent: Math.round((ms / busy) * 1000) / 10 })),
    sharedSelf: ranked(self, isShared),
    sharedTotal: ranked(total, isShared),
    mqttSelf: ranked(self, isMqtt),
    overall: ranked(self, () => true),
  }
}
