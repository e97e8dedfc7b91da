/**
 * Parts of the send pipeline in their own processes, as they run in
 * production and in local development: the Twilio sandbox (`engage sandbox
 * twilio`, standing in for Twilio's cloud) and `engage serve` (the webhook
 * receiver) started through the real CLI (bin/dev.js, under tsx), each with
 * its CPU time readable from /proc so a bench can count it.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {connectTwilioSandbox, type BehaviourInput, type SandboxSeed, type TwilioSandboxControl} from '../../src/twilio-sandbox/index.js'
import type {ServeApp} from '../../src/serve/serve-app.js'
import {writeSeedFile} from '../../src/twilio-sandbox/seed-file.js'

/** Where the bench's parts run: all in one process, the sandbox apart, or the sandbox and serve each apart from the worker. */
export type ProcessLayout = 'single' | 'sandbox-apart' | 'all-apart'
export const PROCESS_LAYOUTS: readonly ProcessLayout[] = ['single', 'sandbox-apart', 'all-apart']

/** What each layout puts where, for printing. */
export function describeLayout(layout: ProcessLayout): string {
  if (layout === 'single') return 'one process: worker + sandbox + serve'
  if (layout === 'sandbox-apart') return 'process 1: worker + serve; process 2: sandbox'
  return 'process 1: worker; process 2: sandbox; process 3: serve'
}

// `--import tsx` resolves from the working directory, so children start in the project root.
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ENGAGE_DEV = fileURLToPath(new URL('../../bin/dev.js', import.meta.url))

/** A child process the bench started: its name for reports, its pid for CPU, and how to end it. */
export interface ChildProcessHandle {
  readonly name: string
  readonly pid: number
  stop(): Promise<void>
}

/** User + system CPU seconds a live process has used so far, all its threads included (Linux /proc). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}
/** USER_HZ, 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100

/**
 * Runs `engage ARGS --json` in a child process and resolves once it has
 * printed its JSON announcement (it prints that after it listens). Only PATH,
 * HOME and `env` reach the child, so a developer's DATABASE_URL or keys do not.
 */
export async function startEngageProcess<T>(name: string, args: string[], env: Record<string, string>, startTimeoutMs = 30_000): Promise<{child: ChildProcessHandle; announced: T}> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENGAGE_DEV, ...args, '--json'], {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const announced = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${startTimeoutMs} ms: ${stderr}`)), startTimeoutMs)
    let stdout = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      // One JSON document, on one line (serve) or pretty-printed (oclif's logJson): parse once it is whole.
      let parsed: T
      try {
        parsed = JSON.parse(stdout) as T
      } catch {
        return
      }
      clearTimeout(timer)
      resolve(parsed)
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${child.exitCode ?? child.signalCode} before it started: ${stderr}`))
    })
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL')
    await exited
    throw error
  })
  return {
    announced,
    child: {
      name,
      pid: child.pid!,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.kill('SIGTERM')
        await exited
        clearTimeout(killer)
      },
    },
  }
}

/** A sandbox in another process: its control plane over HTTP, as tests drive one. */
export type SandboxProcess = TwilioSandboxControl & ChildProcessHandle

/** `engage sandbox twilio --seed FILE` in a child; the seed (auth tokens) goes through a mode-600 file, never argv. */
export async function startSandboxProcess(seed: SandboxSeed, behaviour?: BehaviourInput): Promise<SandboxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'engage-bench-seed-'))
  try {
    const seedPath = join(dir, 'seed.json')
    await writeSeedFile(seedPath, seed)
    const {child, announced} = await startEngageProcess<{url: string}>('twilio sandbox', ['sandbox', 'twilio', '--port', '0', '--seed', seedPath], {})
    const control = connectTwilioSandbox(announced.url)
    if (behaviour) await control.configure(behaviour)
    return {...control, name: child.name, pid: child.pid, stop: child.stop}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

export interface ServeProcessOptions {
  databaseUrl: string
  port: number
  encryptionKey: string
  webhookBaseUrl?: string
  statusWebhookUrl?: string
  statusWebhookSecret?: string
  forwardIntervalMs?: number
}

/** What `engage serve --json` announces: its URL and port, and each endpoint's URL. */
export type ServeAnnouncement = {url: string; port: number} & ServeApp['urls']

/** `engage serve` in a child, on the same database; secrets go through its environment. */
export async function startServeProcess(options: ServeProcessOptions): Promise<{child: ChildProcessHandle; announced: ServeAnnouncement}> {
  const env: Record<string, string> = {ENCRYPTION_KEY: options.encryptionKey}
  if (options.webhookBaseUrl) env.WEBHOOK_BASE_URL = options.webhookBaseUrl
  if (options.statusWebhookUrl) env.BACKEND_STATUS_WEBHOOK_URL = options.statusWebhookUrl
  if (options.statusWebhookSecret) env.BACKEND_STATUS_WEBHOOK_SECRET = options.statusWebhookSecret
  const args = ['serve', '--port', String(options.port), '--database-url', options.databaseUrl, '--forward-interval', String(options.forwardIntervalMs ?? 1000)]
  return startEngageProcess<ServeAnnouncement>('serve', args, env)
}
