import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {BIN, PROJECT_ROOT} from './run-cli.js'

// By path: the working directory is a temp folder, from which the bare name `tsx` does not resolve.
const TSX = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href

export interface EngageDev {
  process: ChildProcessWithoutNullStreams
  /** Everything it printed so far. */
  output(): {stdout: string; stderr: string}
  /** Resolves with the exit code once it has stopped. */
  exit: Promise<number | null>
}

/**
 * `engage dev` in the background, in `cwd`, on ports the OS picks, as a user
 * starts it in a second terminal. Resolves once it has written .env and waits
 * for `engage migrate up`; the caller kills it (SIGINT for a clean stop).
 */
export async function startEngageDev(cwd: string, env: Record<string, string>): Promise<EngageDev> {
  const node = process.env.ENGAGE_TEST_BIN === 'dev' ? ['--import', TSX, BIN] : [BIN]
  const ports = ['--serve-port', '0', '--twilio-port', '0', '--sqs-port', '0', '--ses-port', '0']
  const child = spawn(process.execPath, [...node, 'dev', ...ports], {cwd, env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env}})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const deadline = Date.now() + 60_000
  while (!stdout.includes('ENGAGE_SERVE_URL=') || !stderr.includes('Waiting for the database')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`engage dev did not start: ${stderr.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {process: child, output: () => ({stdout, stderr}), exit}
}
