import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DIALECTS, createTestDatabase, type TestDatabase} from '../support/databases.js'
import {startEngageDev, type EngageDev} from '../support/engage-dev.js'
import {BIN, PROJECT_ROOT} from '../support/run-cli.js'

const DEV = process.env.ENGAGE_TEST_BIN === 'dev'
const NODE_ARGS = DEV ? ['--import', pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href] : []

/** The lines of the ```sh quickstart block of docs/runbook.md, exactly as written there. */
export function quickstartCommands(markdown: string): string[] {
  const block = /```sh quickstart\n([\s\S]*?)```/.exec(markdown)
  if (!block) throw new Error('docs/runbook.md has no ```sh quickstart block')
  return block[1]!.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
}

/** `npx engage ARGS…` as written, run through this checkout's CLI; a command that is not `npx engage` is a test failure. */
function argvOf(command: string): string[] {
  const words = command.split(/\s+/)
  if (words[0] !== 'npx' || words[1] !== 'engage') throw new Error(`quick-start line is not an engage command: ${command}`)
  if (command.includes('"') || command.includes("'")) throw new Error(`quoting in quick-start lines is not supported by this runner: ${command}`)
  return words.slice(2)
}

function run(args: string[], cwd: string, env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_ARGS, BIN, ...args], {cwd, env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

describe('quickstartCommands', () => {
  it('finds the runbook quick start: migrate up, seed twilio, cutover --verify', () => {
    const commands = quickstartCommands(readFileSync(join(PROJECT_ROOT, 'docs/runbook.md'), 'utf8'))
    expect(commands.map((command) => argvOf(command).slice(0, 2).join(' '))).toEqual(['migrate up', 'seed twilio', 'cutover --verify'])
  })
})

describe.each(DIALECTS)('the runbook quick start, as written (%s)', (dialect) => {
  let dir: string
  let testDatabase: TestDatabase | undefined
  let dev: EngageDev | undefined

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'engage-quickstart-'))
    // SQLite: the default ./engage.db in the working directory, as a user gets it. PostgreSQL: an empty database named by DATABASE_URL.
    testDatabase = dialect === 'postgres' ? await createTestDatabase('postgres') : undefined
  })

  afterEach(async () => {
    if (dev && dev.process.exitCode === null) dev.process.kill('SIGKILL')
    dev = undefined
    await testDatabase?.dispose()
    rmSync(dir, {recursive: true, force: true})
  })

  it('runs every command with engage dev in the background; each exits 0 and --verify reports delivered', async () => {
    const env: Record<string, string> = testDatabase ? {DATABASE_URL: testDatabase.url} : {}
    const commands = quickstartCommands(readFileSync(join(PROJECT_ROOT, 'docs/runbook.md'), 'utf8'))
    dev = await startEngageDev(dir, env)

    for (const command of commands) {
      const result = await run(argvOf(command), dir, env)
      expect(result.code, `\`${command}\` exited ${result.code}:\n${result.stdout}\n${result.stderr.slice(-3000)}`).toBe(0)
      if (argvOf(command)[0] === 'cutover') {
        expect(result.stdout).toMatch(/\+15555550100\s+\d+ ms\s+\d+ ms\s+\d+ ms\s+–\s+\d+ ms\s+✓ ok/)
        expect(result.stdout).toMatch(/✓ All 1 smoke message\(s\) went through the local queue/)
      }
    }

    dev.process.kill('SIGINT')
    expect(await dev.exit, dev.output().stderr.slice(-2000)).toBe(0)
  })
})
