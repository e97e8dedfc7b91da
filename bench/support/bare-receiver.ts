/**
 * The floor rows' stand-in for serve's POST /webhooks/twilio: a bare
 * node:http server that answers 200 and reads nothing but the status,
 * counting callbacks until the expected number of `delivered` ones arrived.
 * Runs in the bench process, or alone in a child (bare-receiver-process.ts)
 * where the layout puts serve in a child.
 */
import {fork} from 'node:child_process'
import {createServer, type IncomingMessage} from 'node:http'
import {fileURLToPath} from 'node:url'
import {listenOn} from '../../src/net/listen.js'
import {PROJECT_ROOT, type ChildProcessHandle} from './child-processes.js'

export interface BareReceiver {
  readonly port: number
  /**
   * Forgets the counts and starts waiting for `delivered` callbacks of
   * `messages` messages; resolves once it counts (send after that), with the
   * wait for all of them, which yields every callback counted.
   */
  expect(messages: number): Promise<{delivered: Promise<{callbacks: number}>}>
  close(): Promise<void>
}

export async function startBareReceiver(): Promise<BareReceiver> {
  let callbacks = 0
  let delivered = 0
  let target = Number.POSITIVE_INFINITY
  let allDelivered: () => void = () => {}
  const server = createServer((incoming: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      callbacks++
      if (new URLSearchParams(Buffer.concat(chunks).toString()).get('MessageStatus') === 'delivered' && ++delivered === target) allDelivered()
      response.writeHead(200, {'Content-Type': 'text/plain'}).end('ok')
    })
  })
  const port = await listenOn(server, 0, '127.0.0.1')
  return {
    port,
    async expect(messages) {
      callbacks = 0
      delivered = 0
      target = messages
      const done = new Promise<void>((resolve) => (allDelivered = resolve))
      return {delivered: done.then(() => ({callbacks}))}
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** The same receiver alone in a child process (bare-receiver-process.ts), driven over IPC. */
export async function startBareReceiverProcess(): Promise<BareReceiver & ChildProcessHandle> {
  const child = fork(fileURLToPath(new URL('./bare-receiver-process.ts', import.meta.url)), {cwd: PROJECT_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (message) => resolve(message as T))
      void exited.then(() => reject(new Error('the bare receiver process exited')))
    })
  const {port} = await next<{port: number}>()
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.send({close: true})
    await exited
  }
  return {
    name: 'receiver',
    pid: child.pid!,
    port,
    async expect(messages) {
      const armed = next<{armed: true}>()
      child.send({expect: messages})
      await armed
      return {delivered: next<{callbacks: number}>()}
    },
    close,
    stop: close,
  }
}
