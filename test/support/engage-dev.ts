import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach} from 'vitest'
import type {Dialect} from '../../src/db/database.js'
import {createTestDatabase, type TestDatabase} from './databases.js'
import {CLI_ARGV} from './run-cli.js'

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
  const ports = ['--serve-port', '0', '--twilio-port', '0', '--sqs-port', '0', '--ses-port', '0']
  const child = spawn(process.execPath, [...CLI_ARGV, 'dev', ...ports], {cwd, env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env}})
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

/** What a test that runs the CLI beside `engage dev` works in; fresh for each test. */
export interface DevWorkspace {
  /** The working directory: engage dev writes .env there, and on SQLite the default ./engage.db lives there. */
  dir: string
  /** PostgreSQL: an empty database (the caller passes its URL as DATABASE_URL). SQLite: undefined. */
  testDatabase: TestDatabase | undefined
  /** Set by the test once started; killed after it if still running. */
  dev: EngageDev | undefined
}

/**
 * Registers the set-up and tear-down of a DevWorkspace around each test of
 * the calling describe block: a temp directory and, on PostgreSQL, an empty
 * database; afterwards engage dev is killed if the test left it running, and
 * both are removed.
 */
export function useDevWorkspace(dialect: Dialect, prefix: string): DevWorkspace {
  const workspace: DevWorkspace = {dir: '', testDatabase: undefined, dev: undefined}
  beforeEach(async () => {
    workspace.dir = mkdtempSync(join(tmpdir(), prefix))
    workspace.testDatabase = dialect === 'postgres' ? await createTestDatabase('postgres') : undefined
  })
  afterEach(async () => {
    if (workspace.dev && workspace.dev.process.exitCode === null) workspace.dev.process.kill('SIGKILL')
    workspace.dev = undefined
    await workspace.testDatabase?.dispose()
    rmSync(workspace.dir, {recursive: true, force: true})
  })
  return workspace
}
