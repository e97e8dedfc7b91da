import {spawn} from 'node:child_process'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {CLI_ARGV, PROJECT_ROOT} from '../support/run-cli.js'
import {migratedDatabase, newKey, snapshotSettings, twilioSeed} from '../support/seed-fixtures.js'

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

/**
 * Runs the CLI on a real pseudo-terminal through util-linux `script`, so the
 * prompts see a TTY on stdin and stderr. `steps` wait for a piece of output,
 * then type; the result is the terminal transcript and the exit code.
 */
function runInTerminal(
  args: string[],
  env: Record<string, string>,
  steps: Array<{waitFor: string; type: string}>,
  timeoutMs = 60_000,
): Promise<{code: number | null; transcript: string; pending: string[]}> {
  const node = [process.execPath, ...CLI_ARGV, ...args]
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', node.map(quote).join(' '), '/dev/null'], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', COLUMNS: '200', LINES: '50', ...env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let transcript = ''
    let seen = 0
    const queue = [...steps]
    const advance = () => {
      const next = queue[0]
      if (!next) return
      const at = transcript.indexOf(next.waitFor, seen)
      if (at === -1) return
      seen = at + next.waitFor.length
      queue.shift()
      // A short pause lets the prompt finish drawing and switch the terminal to raw mode.
      setTimeout(() => {
        child.stdin.write(next.type)
        advance()
      }, 150)
    }
    child.stdout.on('data', (chunk) => {
      transcript += chunk
      advance()
    })
    child.stderr.on('data', (chunk) => (transcript += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, transcript, pending: queue.map((step) => step.waitFor)})
    })
  })
}

describe.each(DIALECTS)('engage seed twilio in a terminal (%s)', (dialect) => {
  const fixture = twilioSeed()
  const key = newKey()
  let sandbox: TwilioSandbox
  let testDb: TestDatabase
  let database: Database

  beforeAll(async () => {
    sandbox = await startTwilioSandbox({seed: fixture.seed})
  })
  afterAll(async () => {
    await sandbox.stop()
  })
  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  const env = () => ({ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url})
  const args = () => ['seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--create-tenant', '--name', 'Acme', '--from', '+15005550006']

  it('asks for missing values, masks the auth token, and stores verified settings', async () => {
    const result = await runInTerminal(args(), env(), [
      {waitFor: 'account SID', type: `${fixture.accountSid}\r`},
      {waitFor: 'Auth token for', type: `${fixture.authToken}\r`},
      {waitFor: 'Messaging service SID', type: `${fixture.serviceSid}\r`},
    ])

    expect(result.pending).toEqual([])
    expect(result.code).toBe(0)
    // The typed token is echoed as mask characters, never as itself.
    expect(result.transcript).not.toContain(fixture.authToken)
    expect(result.transcript).toContain('*'.repeat(8))
    const rows = await database.db.selectFrom('tenant_channel_settings').selectAll().execute()
    expect(rows).toHaveLength(1)
    expect(Number(rows[0]!.is_verified)).toBe(1)
  })

  it('Ctrl-C at the auth token prompt exits 130 and writes nothing', async () => {
    const before = await snapshotSettings(database)

    const result = await runInTerminal(args(), env(), [
      {waitFor: 'account SID', type: `${fixture.accountSid}\r`},
      {waitFor: 'Auth token for', type: 'abc\u0003'},
    ])

    expect(result.pending).toEqual([])
    expect(result.code).toBe(130)
    // The command's own message: the prompt turned Ctrl-C into InterruptedError (not a SIGINT kill).
    expect(result.transcript).toContain('Error [INTERRUPTED]: Interrupted at a prompt; nothing was written.')
    expect(await snapshotSettings(database)).toEqual(before)
  })

  it('re-asks a malformed value instead of failing', async () => {
    const result = await runInTerminal(args(), env(), [
      {waitFor: 'account SID', type: 'AC-not-a-sid\r'},
      // Erase the rejected answer (DEL is what a terminal's backspace sends), then type a good one.
      {waitFor: 'followed by 32 hex characters', type: `${'\u007f'.repeat(20)}${fixture.accountSid}\r`},
      {waitFor: 'Auth token for', type: `${fixture.authToken}\r`},
      {waitFor: 'Messaging service SID', type: `${fixture.serviceSid}\r`},
    ])

    expect(result.pending).toEqual([])
    expect(result.code).toBe(0)
    const row = await database.db.selectFrom('tenant_channel_settings').selectAll().executeTakeFirstOrThrow()
    expect(JSON.parse(row.provider_config_json)).toEqual({accountSid: fixture.accountSid})
  })
})
