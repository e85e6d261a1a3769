// Where the time of a V8 .cpuprofile went: self time per function, inclusive time of shared/'s, time per package.
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
  busyMs: number
  /** Self time per package or area (shared/<file>, functions, mqtt, zod, node:internal, (garbage collector), …). */
  areas: Array<{ area: string; ms: number; percent: number }>
  /** The most self time in shared/, inclusive time there (a function and what it called), self time in MQTT.js, anywhere. */
  sharedSelf: FunctionCost[]
  sharedTotal: FunctionCost[]
  mqttSelf: FunctionCost[]
  overall: FunctionCost[]
}

/** MQTT.js and the packages it brings. */
const MQTT_PACKAGES = new Set(
  `mqtt mqtt-packet bl readable-stream process-nextick-args debug number-allocator rfdc worker-timers commist help-me split2
  minimist ws lru-cache @types/readable-stream buffer events string_decoder inherits safe-buffer util-deprecate`.split(/\s+/),
)

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
  const add = (m: Map<string, number>, k: string, dt: number) => m.set(k, (m.get(k) ?? 0) + dt)
  let busy = 0
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    const n = byId.get(id)
    if (!n || n.callFrame.functionName === '(idle)') return
    busy += dt
    add(self, keyOf(n), dt)
    add(areas, area(n.callFrame.url, n.callFrame.functionName), dt)
    // Inclusive: once per function on the stack, however deep it recursed.
    const onStack = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) onStack.add(keyOf(byId.get(cur)!))
    for (const k of onStack) add(total, k, dt)
  })
  const share = (ms: number) => ({ ms: Math.round(ms), percent: Math.round((ms / busy) * 1000) / 10 })
  const cost = ([k, ms]: [string, number]): FunctionCost => {
    const [fn, at] = k.split('\u0000') as [string, string]
    return { function: fn, where: at, ...share(ms) }
  }
  const ranked = (m: Map<string, number>, keep: (where: string) => boolean) =>
    [...m]
      .filter(([k]) => keep(k.split('\u0000')[1]!))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(cost)
  const isShared = (w: string) => w.startsWith('shared/')
  return {
    file,
    busyMs: Math.round(busy),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 16)
      .map(([area, ms]) => ({ area, ...share(ms) })),
    sharedSelf: ranked(self, isShared),
    sharedTotal: ranked(total, isShared),
    mqttSelf: ranked(self, (w) => MQTT_PACKAGES.has(w.split('/')[0]!)),
    overall: ranked(self, () => true),
  }
}
