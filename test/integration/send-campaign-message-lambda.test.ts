import {execFile, execFileSync} from 'node:child_process'
import {promisify} from 'node:util'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import {buildLambdaBundles} from '../../src/lambda/bundle.js'
import {SEND_CAMPAIGN_MESSAGE} from '../../src/lambda/functions.js'
import type {Database} from '../../src/db/database.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {
  createCampaign,
  createContacts,
  createQueuedMessages,
  enqueueSendJobs,
  phoneNumbers,
  receiveRecords,
  seedTwilioTenant,
  startCallbackSink,
  testKeyring,
  type CallbackSink,
} from '../support/pipeline-fixtures.js'
import {migratedDatabase, twilioSeed} from '../support/seed-fixtures.js'
import {PROJECT_ROOT} from '../support/run-cli.js'

type Handler = (event: {Records: unknown[]}) => Promise<{batchItemFailures: Array<{itemIdentifier: string}>}>

// Plays the Lambda runtime: imports index.mjs, invokes handler once per event (a warm container), prints the responses.
const RUNTIME = `
const {handler} = await import(process.argv[1])
const events = JSON.parse(process.argv[2])
const responses = []
for (const event of events) {
  try { responses.push(await handler(event)) } catch (error) { responses.push({error: error.message}) }
}
process.stdout.write(JSON.stringify(responses))
process.exit(0)
`

/**
 * Runs the bundled handler in its own node process with only the given
 * environment, as Lambda does. Asynchronous: the sandbox it calls lives in
 * this process and must keep answering.
 */
async function invokeBundle(
  indexPath: string,
  events: Array<{Records: unknown[]}>,
  env: Record<string, string>,
): Promise<Array<{batchItemFailures?: Array<{itemIdentifier: string}>; error?: string}>> {
  const {stdout} = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', RUNTIME, pathToFileURL(indexPath).href, JSON.stringify(events)], {
    env: {PATH: process.env.PATH ?? '', ...env},
    cwd: dirname(indexPath),
    encoding: 'utf8',
    timeout: 60_000,
  })
  return JSON.parse(stdout)
}

/** Sets environment variables for the duration of `work`, then restores them exactly. */
async function withEnv<T>(values: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]))
  Object.assign(process.env, values)
  try {
    return await work()
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

describe('the SendCampaignMessage Lambda bundle', () => {
  let dir: string
  let runDir: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'engage-send-bundle-'))
    const [bundle] = await buildLambdaBundles({entries: [{name: SEND_CAMPAIGN_MESSAGE.name, entry: SEND_CAMPAIGN_MESSAGE.entry}], outDir: dir, rootDir: PROJECT_ROOT})
    // Unzipped where no node_modules exist above: only what is bundled can load.
    runDir = mkdtempSync(join(tmpdir(), 'engage-send-bundle-run-'))
    execFileSync('unzip', ['-q', bundle!.zipPath, '-d', runDir])
  })
  afterAll(() => {
    rmSync(dir, {recursive: true, force: true})
    rmSync(runDir, {recursive: true, force: true})
  })

  it('bundles without better-sqlite3 and refuses a SQLite DATABASE_URL with a clear message', async () => {
    const [response] = await invokeBundle(join(runDir, 'index.mjs'), [{Records: []}], {DATABASE_URL: `sqlite:${join(runDir, 'engage.db')}`, ENCRYPTION_KEY: testKeyring().hex})

    expect(response?.error).toMatch(/names SQLite .* which a bundled Lambda cannot open; use a postgres:\/\/ URL/)
  })

  describe.each(DIALECTS)('sends through the sandbox over %s', (dialect) => {
    let testDatabase: TestDatabase
    let database: Database
    let sandbox: TwilioSandbox
    let sink: CallbackSink
    const key = testKeyring()

    beforeAll(async () => {
      const twilio = twilioSeed()
      ;[testDatabase, sandbox, sink] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startCallbackSink()])
      database = await testDatabase.open()
      const tenantId = await seedTwilioTenant(database, key.keyring, {
        slug: 'lambda-co',
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        messagingServiceSid: twilio.serviceSid,
        twilioBaseUrl: sandbox.url,
        webhookUrl: sink.url,
        channels: ['sms'],
      })
      const campaign = await createCampaign(database, {tenantId, channel: 'sms', body: 'From the Lambda'})
      const messages = await createQueuedMessages(database, campaign, await createContacts(database, tenantId, phoneNumbers(3, 9000).map((phone) => ({phone}))))
      await enqueueSendJobs(new LocalQueue({database, queueName: 'lambda-test'}), messages)
    })
    afterAll(async () => {
      await Promise.allSettled([sandbox?.stop(), sink?.stop()])
      await testDatabase?.dispose()
    })

    it(dialect === 'postgres' ? 'runs the bundled handler in its own process, built from the environment' : 'runs the handler from the sources, SQLite loaded on demand', async () => {
      const records = await receiveRecords(new LocalQueue({database, queueName: 'lambda-test'}), 10)
      const env = {DATABASE_URL: testDatabase.url, ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url, LOG_LEVEL: 'error'}

      // The same records twice to one warm container: the second time calls nobody.
      let response: {batchItemFailures?: unknown[]} | undefined
      let again: {batchItemFailures?: unknown[]} | undefined
      if (dialect === 'postgres') {
        ;[response, again] = await invokeBundle(join(runDir, 'index.mjs'), [{Records: records}, {Records: records}], env)
      } else {
        vi.resetModules()
        const module = (await import('../../src/handlers/send-campaign-message.js')) as {handler: Handler}
        ;[response, again] = await withEnv(env, async () => [await module.handler({Records: records}), await module.handler({Records: records})])
      }

      expect(records).toHaveLength(3)
      expect(response?.batchItemFailures).toEqual([])
      expect(again?.batchItemFailures).toEqual([])
      const counters = await sandbox.counters()
      expect(counters.creates).toBe(3)
      expect(counters.accepted).toBe(3)
      const rows = await database.db.selectFrom('messages').select(['status', 'provider_message_id']).execute()
      expect(rows.map((row) => row.status)).toEqual(['sent', 'sent', 'sent'])
      expect(new Set(rows.map((row) => row.provider_message_id)).size).toBe(3)
    })
  })
})
