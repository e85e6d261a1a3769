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

/** Self time per package or area (shared/<file>, functions, mqtt, zod, node:internal, (garbage collector), …); the most
 * self time in shared/, inclusive time there (a function and what it called), self time in MQTT.js, anywhere. */
export type ProfileSummary = ReturnType<typeof summarizeProfile>

/** MQTT.js and the packages it brings. */
const MQTT_PACKAGES = new Set(
  `mqtt mqtt-packet bl readable-stream process-nextick-args debug number-allocator rfdc worker-timers commist help-me split2
  minimist ws lru-cache @types/readable-stream buffer events string_decoder inherits safe-buffer util-deprecate`.split(/\s+/),
)

/** `node_modules/<package>/…`, `shared/…`, `functions/…` or `scripts/…`, else the URL. */
const short = (url: string) => {
  const nm = url.lastIndexOf('/node_modules/')
  return nm >= 0 ? url.slice(nm + '/node_modules/'.length) : (/\/((?:shared|functions|scripts)\/.+)$/.exec(url)?.[1] ?? url)
}

function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)'
  if (url.startsWith('node:')) return 'node:internal'
  const path = short(url)
  const [first, second] = path.split('/') as [string, string]
  if (url.includes('/node_modules/')) return first.startsWith('@') ? `${first}/${second}` : first
  return path === url ? url : first === 'shared' ? path : first
}

const where = (url: string, line: number) => (url ? `${short(url).replace(/^file:\/\//, '')}:${line + 1}` : '(native)')

export function summarizeProfile(file: string, top = 12) {
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
  const cost = ([k, ms]: [string, number]) => {
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
