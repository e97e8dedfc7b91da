import {spawn} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/**
 * The built CLI by default, as a user runs it. ENGAGE_TEST_BIN=dev runs the
 * TypeScript through bin/dev.js instead, for fast local loops without a build.
 */
export const BIN = join(PROJECT_ROOT, 'bin', process.env.ENGAGE_TEST_BIN === 'dev' ? 'dev.js' : 'run.js')
// tsx by path: a test may run the CLI from a temp folder, where the bare name `tsx` does not resolve.
const TSX = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href
/** Node's arguments that start the CLI (then its own arguments): BIN, with tsx loaded first in dev mode. */
export const CLI_ARGV: readonly string[] = process.env.ENGAGE_TEST_BIN === 'dev' ? ['--import', TSX, BIN] : [BIN]

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs the built CLI (`bin/run.js`) the way a user does, in its own process.
 * The environment is the test's choice: nothing from the caller leaks in
 * except PATH and HOME.
 */
export function runCli(
  args: string[],
  options: {cwd?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number} = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, ...options.env} as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
    child.stdin.end(options.input ?? '')
  })
}
