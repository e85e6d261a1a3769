// Real brokers for the tests: Mosquitto started on a free loopback port (the one launcher, scripts/mqtt/mosquitto.ts,
// which the benchmark uses too), and the embedded aedes broker where a test needs one that speaks MQTT 3.1.1 only.
import { createServer, type Server, type Socket } from 'node:net'
import { type Broker, freePort, startMosquitto as launch, type MosquittoOptions } from '../../scripts/mqtt/mosquitto.js'
import { requirePrograms } from './requirements.js'

export { mosquittoInstalled } from './requirements.js'
export type { Broker, MosquittoOptions }

/** Mosquitto, or an error naming what to install when a suite that must run (REQUIRE_MOSQUITTO=1) lacks it. */
export function startMosquitto(options: MosquittoOptions = {}): Promise<Broker> {
  requirePrograms('mosquitto')
  return launch(options)
}

/** The embedded broker (aedes, MQTT 3.1.1 only), on a free loopback port. */
export async function startAedes(options: { port?: number } = {}): Promise<Broker> {
  const { Aedes } = await import('aedes')
  const port = options.port ?? (await freePort())
  let server: Server | undefined
  let aedes: InstanceType<typeof Aedes> | undefined
  let connections = new Map<string, number>()
  const sockets = new Set<Socket>()
  const broker: Broker = {
    kind: 'aedes',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    log: () => [...connections].map(([id, n]) => `${id}: ${n}`).join('\n'),
    connectionsFrom: (prefix) => [...connections].filter(([id]) => id.startsWith(prefix)).reduce((a, [, n]) => a + n, 0),
    async start() {
      aedes = await Aedes.createBroker()
      aedes.on('client', (client) => connections.set(client.id, (connections.get(client.id) ?? 0) + 1))
      server = createServer(aedes.handle)
      server.on('connection', (sock) => {
        sockets.add(sock)
        sock.once('close', () => sockets.delete(sock))
      })
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(port, '127.0.0.1', () => resolve())
      })
    },
    pause() {
      throw new Error('aedes runs in this process: it cannot be paused')
    },
    resume() {},
    close: () => broker.stop(),
    async stop() {
      const s = server,
        a = aedes
      server = undefined
      aedes = undefined
      if (!s || !a) return
      await new Promise<void>((r) => a.close(() => r()))
      for (const sock of sockets) sock.destroy()
      await new Promise<void>((r) => s.close(() => r()))
    },
  }
  connections = new Map()
  await broker.start()
  return broker
}
