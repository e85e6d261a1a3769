// The embedded MQTT broker of `npm start`: aedes on loopback, MQTT 3.1.1 only (docs/architecture.md, "Known traps").
import { once } from 'node:events'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { explainListenError } from './start-options.js'

export async function startEmbeddedBroker(port: number): Promise<{ url: string; close(): Promise<void> }> {
  const { Aedes } = await import('aedes')
  const aedes = await Aedes.createBroker()
  const server = createServer(aedes.handle)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  const closeAedes = () => new Promise<void>((r) => aedes.close(() => r()))
  await once(server.listen(port, '127.0.0.1'), 'listening').catch(async (err: unknown) => {
    await closeAedes()
    throw explainListenError(err, port, 'the embedded MQTT broker', '--mqtt-port')
  })
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await closeAedes()
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
