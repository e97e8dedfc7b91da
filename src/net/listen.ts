import type {AddressInfo, Server} from 'node:net'

/**
 * Starts `server` listening and resolves with the port it got (port 0 lets
 * the OS pick). A failure to bind (EADDRINUSE, EACCES) rejects instead of
 * surfacing later as an unhandled 'error' event.
 */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return (server.address() as AddressInfo).port
}
