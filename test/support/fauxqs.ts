import {spawn, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'

/**
 * A real fauxqs 1.9.2 SQS emulator in a child process, bound to 127.0.0.1 on
 * a port the OS picks. fauxqs' own `startFauxqs()` and CLI always listen on
 * 0.0.0.0, so the child builds the app with the exported `buildApp()` and
 * listens on loopback itself, then prints its port. State is in memory and
 * dies with the process; each suite gets its own server.
 */
export interface FauxqsServer {
  /** http://127.0.0.1:<port>, the `endpoint` for an SQSClient. */
  endpoint: string
  port: number
  region: string
  /** SQSClient config pointing at this server, with throwaway credentials. */
  clientConfig: {endpoint: string; region: string; credentials: {accessKeyId: string; secretAccessKey: string}}
  /** fauxqs' non-destructive inspection endpoint (GET /_fauxqs/queues/:name); undefined for a missing queue. */
  inspectQueue(name: string): Promise<FauxqsQueueInspection | undefined>
  stop(): Promise<void>
}

export interface FauxqsQueueInspection {
  name: string
  url: string
  arn: string
  attributes: Record<string, string>
  messages: {ready: unknown[]; delayed: unknown[]; inflight: unknown[]}
}

// fauxqs exports only an ESM "import" condition, so the child resolves it from the project root.
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url))

const CHILD_SCRIPT = `
const {buildApp} = await import('fauxqs')
const app = buildApp({logger: false, defaultRegion: process.env.FAUXQS_REGION})
await app.listen({port: 0, host: '127.0.0.1'})
process.stdout.write(JSON.stringify({port: app.server.address().port}) + '\\n')
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
`

export async function startFauxqs(options: {region?: string; startTimeoutMs?: number} = {}): Promise<FauxqsServer> {
  const region = options.region ?? 'us-east-1'
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT], {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH ?? '', FAUXQS_REGION: region},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fauxqs did not start within ${options.startTimeoutMs ?? 15_000} ms: ${stderr}`)), options.startTimeoutMs ?? 15_000)
    let stdout = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const line = stdout.split('\n')[0]
      if (stdout.includes('\n') && line) {
        clearTimeout(timer)
        try {
          resolve((JSON.parse(line) as {port: number}).port)
        } catch (error) {
          reject(error as Error)
        }
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`fauxqs exited with ${code} before it started: ${stderr}`))
    })
  })

  const endpoint = `http://127.0.0.1:${port}`
  // The port being printed means listen() returned; one health call proves it answers HTTP.
  const health = await fetch(`${endpoint}/health`)
  if (!health.ok) throw new Error(`fauxqs health check answered ${health.status}`)

  return {
    endpoint,
    port,
    region,
    clientConfig: {endpoint, region, credentials: {accessKeyId: 'test', secretAccessKey: 'test'}},
    async inspectQueue(name) {
      const response = await fetch(`${endpoint}/_fauxqs/queues/${encodeURIComponent(name)}`)
      if (response.status === 404) return undefined
      if (!response.ok) throw new Error(`fauxqs inspection answered ${response.status}`)
      return (await response.json()) as FauxqsQueueInspection
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
