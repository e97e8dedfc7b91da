import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {mkdtemp, rm, stat, writeFile, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createTwilioClient} from '../../src/providers/twilio/twilio-client.js'
import {connectTwilioSandbox} from '../../src/twilio-sandbox/control-client.js'
import {newAuthToken, newSid, redactSecret} from '../../src/twilio-sandbox/ids.js'
import {CLI_ARGV, PROJECT_ROOT, runCli} from '../support/run-cli.js'


interface Running {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor: (pattern: RegExp) => Promise<RegExpExecArray>
  exit: Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

/** Starts `engage sandbox twilio …` as its own process, the way an operator runs it. */
function startCommand(args: string[]): Running {
  const child = spawn(process.execPath, [...CLI_ARGV, 'sandbox', 'twilio', ...args], {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH, HOME: process.env.HOME},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const waiters: Array<{pattern: RegExp; resolve: (m: RegExpExecArray) => void}> = []
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(stdout)
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(match)
      }
    }
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('close', (code, signal) => resolve({code, signal})))
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exit,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const match = pattern.exec(stdout)
        if (match) return resolve(match)
        waiters.push({pattern, resolve})
        const timer = setTimeout(() => reject(new Error(`no ${pattern} on stdout; stderr: ${stderr}`)), 60_000)
        exit.then(() => {
          clearTimeout(timer)
          reject(new Error(`exited before ${pattern}; stderr: ${stderr}`))
        })
      }),
  }
}

describe('engage sandbox twilio', () => {
  let dir: string
  let running: Running | undefined
  const account = {sid: newSid('AC'), authToken: newAuthToken(), status: 'active', friendlyName: 'Command tenant'}
  const service = {sid: newSid('MG'), accountSid: account.sid, phoneNumbers: ['+15005550006']}

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'engage-twilio-sandbox-'))
  })

  afterEach(async () => {
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGKILL')
      await running.exit
    }
    running = undefined
    await rm(dir, {recursive: true, force: true})
  })

  async function seedFile(mode = 0o600): Promise<string> {
    const path = join(dir, 'seed.json')
    await writeFile(path, JSON.stringify({accounts: [account], services: [service]}), {mode})
    return path
  }

  it('serves the seeded account to the SDK, shows tokens redacted, and stops on SIGINT with exit 0', async () => {
    running = startCommand(['--port', '0', '--seed', await seedFile()])
    const [, url] = await running.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    await running.waitFor(/service .*\n/)
    const client = createTwilioClient({accountSid: account.sid, authToken: account.authToken, baseUrl: url!})
    expect((await client.api.v2010.accounts(account.sid).fetch()).friendlyName).toBe('Command tenant')
    await client.messages.create({to: '+15551234000', messagingServiceSid: service.sid, body: 'from a test'})
    expect((await connectTwilioSandbox(url!).counters()).accepted).toBe(1)

    running.child.kill('SIGINT')
    expect(await running.exit).toEqual({code: 0, signal: null})
    expect(running.stdout()).toContain(`account ${account.sid} active token ${redactSecret(account.authToken)}`)
    expect(running.stdout() + running.stderr()).not.toContain(account.authToken)
  })

  it('prints only TWILIO_API_BASE_URL with --print-env and stops on SIGTERM', async () => {
    running = startCommand(['--print-env', '--seed', await seedFile()])
    await running.waitFor(/\n/)
    expect(running.stdout()).toMatch(/^TWILIO_API_BASE_URL=http:\/\/127\.0\.0\.1:\d+\n$/)
    running.child.kill('SIGTERM')
    expect({...(await running.exit), stderr: running.stderr()}).toEqual({code: 0, signal: null, stderr: expect.any(String)})
  })

  it('prints one JSON document with --json', async () => {
    running = startCommand(['--json', '--seed', await seedFile()])
    await running.waitFor(/\}\n$/)
    const doc = JSON.parse(running.stdout()) as {url: string; accounts: Array<{sid: string; authToken: string}>}
    expect(doc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(doc.accounts).toEqual([{sid: account.sid, status: 'active', friendlyName: 'Command tenant', authToken: redactSecret(account.authToken)}])
    running.child.kill('SIGINT')
    expect({...(await running.exit), stderr: running.stderr()}).toEqual({code: 0, signal: null, stderr: expect.any(String)})
    expect(JSON.parse(running.stdout())).toEqual(doc)
  })

  it('saves the generated seed to a new owner-only file with --write-seed, and that token works', async () => {
    const path = join(dir, 'generated.json')
    running = startCommand(['--print-env', '--write-seed', path])
    const [, url] = await running.waitFor(/TWILIO_API_BASE_URL=(\S+)\n/)
    const saved = JSON.parse(await readFile(path, 'utf8')) as {accounts: Array<{sid: string; authToken: string}>}
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const [generated] = saved.accounts
    const client = createTwilioClient({accountSid: generated!.sid, authToken: generated!.authToken, baseUrl: url!})
    expect((await client.api.v2010.accounts(generated!.sid).fetch()).status).toBe('active')
    running.child.kill('SIGINT')
    expect((await running.exit).code).toBe(0)
  })

  it('warns about a seed file others can read', async () => {
    running = startCommand(['--print-env', '--seed', await seedFile(0o644)])
    await running.waitFor(/\n/)
    running.child.kill('SIGINT')
    await running.exit
    expect(running.stderr()).toMatch(/readable by other users/)
  })

  it('refuses an invalid seed file with exit 2, without echoing its token', async () => {
    const path = join(dir, 'bad.json')
    const token = newAuthToken()
    await writeFile(path, JSON.stringify({accounts: [{sid: 'AC-not-a-sid', authToken: token}]}), {mode: 0o600})
    const result = await runCli(['sandbox', 'twilio', '--seed', path])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/SANDBOX_SEED_INVALID.*accounts\[0\]\.sid/)
    expect(result.stdout).toBe('')
    expect(result.stderr).not.toContain(token)
  })

  it('refuses a missing seed file with exit 2', async () => {
    const result = await runCli(['sandbox', 'twilio', '--seed', join(dir, 'missing.json')])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/SANDBOX_SEED_UNREADABLE.*ENOENT/)
  })
})
