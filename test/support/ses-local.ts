import {spawn, type ChildProcess} from 'node:child_process'
import {createRequire} from 'node:module'

/**
 * A real aws-ses-v2-local SES emulator (V1 and V2 SendEmail) in a child
 * process, started through its own CLI on 127.0.0.1 and a port the OS picks.
 * Its mail store is a module-level singleton, so a child process per suite
 * also keeps suites from seeing each other's mail. It accepts any SigV4
 * credentials (it only checks that an `Authorization: AWS…` header exists).
 */
export interface SesLocalServer {
  /** http://127.0.0.1:<port>, the `endpoint` for an SESClient or SESv2Client. */
  endpoint: string
  port: number
  /** SES client config pointing at this server, with throwaway credentials. */
  clientConfig: {endpoint: string; region: string; credentials: {accessKeyId: string; secretAccessKey: string}}
  /** Emails the server accepted (GET /store), optionally only those since an epoch-seconds time. */
  emails(sinceSeconds?: number): Promise<SesLocalEmail[]>
  /** Forget all stored emails and templates (POST /clear-store). */
  clear(): Promise<void>
  stop(): Promise<void>
}

/** One stored email, as aws-ses-v2-local's /store returns it. */
export interface SesLocalEmail {
  messageId: string
  from: string
  replyTo: string[]
  destination: {to: string[]; cc: string[]; bcc: string[]}
  subject: string
  body: {html?: string; text?: string}
  attachments: Array<{content: string; contentType: string; filename?: string; size: number}>
  headers?: Array<{name: string; value: string}>
  /** Epoch seconds it was received. */
  at: number
}

const require = createRequire(import.meta.url)

export async function startSesLocal(options: {startTimeoutMs?: number} = {}): Promise<SesLocalServer> {
  const cli = require.resolve('aws-ses-v2-local/dist/cli.js')
  const child: ChildProcess = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', '0'], {
    // SMTP_TRANSPORT would forward mail to a real server; the child gets a clean environment.
    env: {PATH: process.env.PATH ?? ''},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })

  const timeoutMs = options.startTimeoutMs ?? 15_000
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aws-ses-v2-local did not start within ${timeoutMs} ms: ${output}`)), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      // The CLI prints "server running at http://localhost:<port>" (it names 127.0.0.1 localhost).
      const match = /server running at \S+:(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`aws-ses-v2-local exited with ${code} before it started: ${output}`))
    })
  })

  const endpoint = `http://127.0.0.1:${port}`
  const health = await fetch(`${endpoint}/health-check`)
  if (!health.ok) throw new Error(`aws-ses-v2-local health check answered ${health.status}`)

  return {
    endpoint,
    port,
    clientConfig: {endpoint, region: 'us-east-1', credentials: {accessKeyId: 'test', secretAccessKey: 'test'}},
    async emails(sinceSeconds) {
      const query = sinceSeconds === undefined ? '' : `?since=${Math.floor(sinceSeconds)}`
      const response = await fetch(`${endpoint}/store${query}`)
      if (!response.ok) throw new Error(`aws-ses-v2-local /store answered ${response.status}`)
      return ((await response.json()) as {emails: SesLocalEmail[]}).emails
    },
    async clear() {
      const response = await fetch(`${endpoint}/clear-store`, {method: 'POST'})
      if (!response.ok) throw new Error(`aws-ses-v2-local /clear-store answered ${response.status}`)
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
