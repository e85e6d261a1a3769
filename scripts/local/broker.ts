// The embedded MQTT broker of `npm start`: aedes on loopback, MQTT 3.1.1 only (docs/architecture.md, "Known traps").
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { explainListenError } from './ports.js'

export interface LocalBroker {
  url: string
  port: number
  close(): Promise<void>
}

export async function startEmbeddedBroker(port: number): Promise<LocalBroker> {
  const { Aedes } = await import('aedes')
  const aedes = await Aedes.createBroker()
  const server = createServer(aedes.handle)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  const closeAedes = () => new Promise<void>((r) => aedes.close(() => r()))
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(port, '127.0.0.1', () => ok())
    })
  } catch (err) {
    await closeAedes()
    throw explainListenError(err, port, 'the embedded MQTT broker', '--mqtt-port')
  }
  const bound = (server.address() as AddressInfo).port
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      await closeAedes()
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
