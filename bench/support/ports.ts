import {createServer} from 'node:net'
import type {AddressInfo} from 'node:net'

/** A loopback port the OS just handed out and released, for a server that must know its URL before it listens. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
