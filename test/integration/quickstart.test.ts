import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {DIALECTS} from '../support/databases.js'
import {startEngageDev, useDevWorkspace} from '../support/engage-dev.js'
import {PROJECT_ROOT, runCli} from '../support/run-cli.js'

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

describe('quickstartCommands', () => {
  it('finds the runbook quick start: migrate up, seed twilio, cutover --verify', () => {
    const commands = quickstartCommands(readFileSync(join(PROJECT_ROOT, 'docs/runbook.md'), 'utf8'))
    expect(commands.map((command) => argvOf(command).slice(0, 2).join(' '))).toEqual(['migrate up', 'seed twilio', 'cutover --verify'])
  })
})

describe.each(DIALECTS)('the runbook quick start, as written (%s)', (dialect) => {
  // SQLite: the default ./engage.db in the working directory, as a user gets it. PostgreSQL: an empty database named by DATABASE_URL.
  const workspace = useDevWorkspace(dialect, 'engage-quickstart-')

  it('runs every command with engage dev in the background; each exits 0 and --verify reports delivered', async () => {
    const env: Record<string, string> = workspace.testDatabase ? {DATABASE_URL: workspace.testDatabase.url} : {}
    const commands = quickstartCommands(readFileSync(join(PROJECT_ROOT, 'docs/runbook.md'), 'utf8'))
    const dev = (workspace.dev = await startEngageDev(workspace.dir, env))

    for (const command of commands) {
      const result = await runCli(argvOf(command), {cwd: workspace.dir, env, timeoutMs: 180_000})
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
