import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {phoneNumbers, seedSandboxTenant, startCallbackSink, testKeyring, type CallbackSink} from '../support/pipeline-fixtures.js'
import {CLI_ARGV, PROJECT_ROOT, runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson, twilioSeed} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('engage worker with SendCampaignMessage (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let sandbox: TwilioSandbox
  let sink: CallbackSink
  let keyHex: string
  let env: Record<string, string>

  beforeAll(async () => {
    const twilio = twilioSeed()
    ;[testDb, sandbox, sink] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startCallbackSink()])
    database = await testDb.open()
    const {keyring, hex} = testKeyring()
    keyHex = hex
    await seedSandboxTenant(database, keyring, twilio, {twilioBaseUrl: sandbox.url, webhookUrl: sink.url})
    env = {ENCRYPTION_KEY: keyHex, TWILIO_API_BASE_URL: sandbox.url}
  })
  afterAll(async () => {
    await Promise.allSettled([sandbox?.stop(), sink?.stop()])
    await testDb?.dispose()
  })

  const cli = (args: string[], extraEnv: Record<string, string> = {}) => runCli([...args, '--database-url', testDb.url], {env: {...env, ...extraEnv}})

  it('import, create, send, then worker --drain: every message sent once through the sandbox, the queue empty', async () => {
    const recipients = phoneNumbers(30)
    const csv = join(testDb.dir, 'contacts.csv')
    writeFileSync(csv, `name,phone\n${recipients.map((phone, i) => `Person ${i},${phone}`).join('\n')}\n`)
    expect((await cli(['contacts', 'import', '--tenant', 'acme', '--file', csv])).code).toBe(0)
    const created = await cli(['campaign', 'create', '--tenant', 'acme', '--channel', 'sms', '--body', 'Spring sale: 20% off'])
    const campaignId = created.stdout.trim()
    const sent = await cli(['campaign', 'send', '--tenant', 'acme', '--campaign', campaignId])
    expect(sent.code, sent.stderr).toBe(0)

    const worker = await cli(['worker', '--drain', '--json', '--concurrency', '2'])

    expect(worker.code, worker.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(worker)).toMatchObject({stoppedBy: 'drain', queue: 'local', received: 30, succeeded: 30, failed: 0, deleted: 30})
    const rows = await database.db.selectFrom('messages').select(['to_address', 'status', 'provider_message_id']).where('campaign_id', '=', campaignId).execute()
    expect(rows).toHaveLength(30)
    expect(rows.every((row) => row.status !== 'queued' && typeof row.provider_message_id === 'string')).toBe(true)
    const counters = await sandbox.counters()
    for (const to of recipients) {
      const entries = counters.byRecipient.filter((entry) => entry.to === to)
      expect(entries.reduce((sum, entry) => sum + entry.accepted, 0)).toBe(1)
    }
    expect(await new LocalQueue({database}).depth()).toMatchObject({visible: 0, inFlight: 0, deadLetter: 0})
    expect(worker.stdout + worker.stderr).not.toContain(keyHex)
  })

  it('SIGTERM on an idle worker: the summary on stdout, logs on stderr, exit 0', async () => {
    const child = spawn(process.execPath, [...CLI_ARGV, 'worker', '--database-url', testDb.url], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env} as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exit = once(child, 'exit')
    // Signalled once it says it is polling, so the handler is installed.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${stderr}`)), 60_000)
      const poll = setInterval(() => {
        if (stderr.includes('Worker polling')) {
          clearInterval(poll)
          clearTimeout(timer)
          resolve()
        }
      }, 50)
    })
    child.kill('SIGTERM')
    const [code, signal] = await exit

    expect({code, signal}).toEqual({code: 0, signal: null})
    expect(stdout).toBe('Stopped (signal): 0 received, 0 done, 0 to retry, 0 deleted.\n')
    expect(stderr).toContain('SIGTERM: no new receives')
  })

  it('refuses to start without ENCRYPTION_KEY (exit 5) and with USE_AWS_QUEUE but no SQS_QUEUE_URL (exit 2)', async () => {
    const noKey = await runCli(['worker', '--drain', '--database-url', testDb.url], {env: {}})
    const noUrl = await cli(['worker', '--drain'], {USE_AWS_QUEUE: 'true'})

    expect(noKey.code).toBe(5)
    expect(noUrl.code).toBe(2)
    expect(noUrl.stderr).toContain('SQS_QUEUE_URL')
  })
})
