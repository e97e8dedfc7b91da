import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'dotenv'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {DEV_ACCOUNT_SID, DEV_MESSAGING_SERVICE_SID} from '../../src/dev-stack/dev-env.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {CLI_ARGV, runCli, type CliResult} from '../support/run-cli.js'
import {migratedDatabase} from '../support/seed-fixtures.js'

/** What a finished engage dev printed. */
type Run = Pick<CliResult, 'code' | 'stdout' | 'stderr'>

interface DevRun {
  child: ChildProcessWithoutNullStreams
  /** The --json document printed once .env is written. */
  urls: Promise<{urls: Record<string, string>; twilio: {accountSid: string; messagingServiceSid: string}}>
  exit: Promise<Run>
}

function startDev(cwd: string, env: Record<string, string>): DevRun {
  const child = spawn(process.execPath, [...CLI_ARGV, 'dev', '--json', '--serve-port', '0', '--twilio-port', '0', '--sqs-port', '0', '--ses-port', '0'], {
    cwd,
    env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env},
  })
  let stdout = ''
  let stderr = ''
  let onUrls: (value: never) => void = () => {}
  const urls = new Promise<never>((resolve) => (onUrls = resolve))
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    if (stdout.includes('\n')) onUrls(JSON.parse(stdout.split('\n')[0]!) as never)
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exit = new Promise<Run>((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
  const failed = exit.then((run) => Promise.reject(new Error(`engage dev exited ${run.code}: ${run.stderr.slice(-2000)}`)))
  failed.catch(() => {})
  return {child, urls: Promise.race([urls, failed]), exit}
}

/** Serve starts once the database is migrated: ready when its health route answers. */
async function untilServing(serveUrl: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const response = await fetch(`${serveUrl}/healthz`).catch(() => undefined)
    if (response?.ok) return
    if (Date.now() > deadline) throw new Error(`engage serve at ${serveUrl} did not come up`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe.each(DIALECTS)('engage dev and engage doctor (%s)', (dialect) => {
  let testDatabase: TestDatabase
  let dir: string
  let dev: DevRun | undefined

  beforeEach(async () => {
    testDatabase = await migratedDatabase(dialect)
    dir = mkdtempSync(join(tmpdir(), 'engage-dev-'))
  })

  afterEach(async () => {
    if (dev && dev.child.exitCode === null) dev.child.kill('SIGKILL')
    dev = undefined
    await testDatabase.dispose()
    rmSync(dir, {recursive: true, force: true})
  })

  it('starts the stack, doctor is all green, SIGINT stops it with exit 0, then doctor shows ✗ lines', async () => {
    const env = {DATABASE_URL: testDatabase.url}
    dev = startDev(dir, env)
    const {urls, twilio} = await dev.urls
    await untilServing(urls.ENGAGE_SERVE_URL!)
    const dotenv = parse(readFileSync(join(dir, '.env')))
    for (const [name, value] of Object.entries(urls)) expect(dotenv[name]).toBe(value)
    for (const name of ['ENCRYPTION_KEY', 'BACKEND_STATUS_WEBHOOK_SECRET', 'TWILIO_AUTH_TOKEN']) expect(dotenv[name]).toBeTruthy()
    expect(twilio).toMatchObject({accountSid: DEV_ACCOUNT_SID, messagingServiceSid: DEV_MESSAGING_SERVICE_SID})
    for (const url of Object.values(urls)) expect(new URL(url).hostname).toMatch(/^(127\.0\.0\.1|sqs\.us-east-1\.localhost)$/)
    const seeded = await runCli(['seed', 'twilio', '--tenant', 'demo', '--create-tenant', '--name', 'Demo', '--account-sid', DEV_ACCOUNT_SID, '--messaging-service-sid', DEV_MESSAGING_SERVICE_SID, '--from', '+15005550006', '--channels', 'sms'], {cwd: dir, env})
    expect(seeded.code, seeded.stderr).toBe(0)

    const green = await runCli(['doctor'], {cwd: dir, env})
    const greenJson = await runCli(['doctor', '--json'], {cwd: dir, env})

    expect(green.code, green.stdout + green.stderr).toBe(0)
    expect(green.stdout).not.toContain('✗')
    for (const check of ['Database reachable', 'Migrations current', 'ENCRYPTION_KEY decrypts', 'Tenant demo sms verified', 'Local queue reachable', 'SQS queue and DLQ reachable', 'Twilio webhook', 'Backend status webhook']) {
      expect(green.stdout).toMatch(new RegExp(`✓ ${check}`))
    }
    expect(green.stdout).toMatch(/accepted a callback signed for tenant demo/)
    const report = JSON.parse(greenJson.stdout) as {ok: boolean; checks: Array<{name: string; ok: boolean}>}
    expect(report.ok).toBe(true)
    expect(report.checks.length).toBeGreaterThanOrEqual(8)
    // The signed self-test leaves no kept callback behind.
    const database = await testDatabase.open()
    expect(await database.db.selectFrom('pending_status_callbacks').selectAll().execute()).toEqual([])

    dev.child.kill('SIGINT')
    const stopped = await dev.exit
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0)
    for (const secret of [dotenv.ENCRYPTION_KEY!, dotenv.BACKEND_STATUS_WEBHOOK_SECRET!, dotenv.TWILIO_AUTH_TOKEN!]) {
      expect(stopped.stdout + stopped.stderr + green.stdout + green.stderr).not.toContain(secret)
    }
    const red = await runCli(['doctor'], {cwd: dir, env})
    expect(red.code).toBe(6)
    expect(red.stdout).toMatch(/✓ Database reachable/)
    expect(red.stdout).toMatch(/✗ SQS queue and DLQ reachable/)
    expect(red.stdout).toMatch(/✗ Twilio webhook answers and checks signatures: .* is unreachable/)
    expect(red.stdout).toMatch(/✗ Backend status webhook answers a signed ping/)
    expect(red.stdout).toMatch(/fix: /)
    expect(red.stderr).toMatch(/DOCTOR_CHECKS_FAILED/)
  })
})
