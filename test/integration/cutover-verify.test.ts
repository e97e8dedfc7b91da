import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {notifyStatusApplied} from '../../src/backend-status/status-applied.js'
import {silentLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import {assertVerifyPassed, renderVerifyReport, runCutoverVerify} from '../../src/cutover/verify/index.js'
import type {Database} from '../../src/db/database.js'
import {isEngageError} from '../../src/errors/engage-error.js'
import {createSendCampaignMessageProcessor} from '../../src/pipeline/send/index.js'
import {openMessageQueue} from '../../src/queue/select-queue.js'
import {startServeApp, type ServeApp} from '../../src/serve/serve-app.js'
import {mountTwilioWebhook} from '../../src/serve/twilio-mount.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {generateWebhookSecret} from '../../src/webhooks/standard-webhooks.js'
import {runWorker} from '../../src/worker/worker-loop.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {seedTwilioTenant, testKeyring} from '../support/pipeline-fixtures.js'
import {closedPort, migratedDatabase, twilioSeed} from '../support/seed-fixtures.js'

const RECIPIENT = '+15555550100'

/**
 * The local path end to end, all in this process over real HTTP: the Twilio
 * sandbox, engage serve (webhook, status intake, SSE) with its forwarder
 * posting to itself, and a worker on the local queue running the real
 * SendCampaignMessage processor.
 */
describe.each(DIALECTS)('cutover verify (%s)', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database
  let sandbox: TwilioSandbox
  let serve: ServeApp
  let settings: Settings
  let stopWorker: () => Promise<void>
  const {keyring, hex} = testKeyring()
  const fixture = twilioSeed()

  beforeEach(async () => {
    testDatabase = await migratedDatabase(dialect)
    database = await testDatabase.open()
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    const port = await closedPort()
    const serveUrl = `http://127.0.0.1:${port}`
    const secret = generateWebhookSecret()
    settings = new Settings({ENCRYPTION_KEY: hex, TWILIO_API_BASE_URL: sandbox.url, ENGAGE_SERVE_URL: serveUrl, WEBHOOK_BASE_URL: serveUrl}, {})
    serve = await startServeApp({
      database,
      port,
      statusWebhookUrl: `${serveUrl}/internal/message-status`,
      statusWebhookSecret: secret,
      forwardIntervalMs: 100,
      twilioWebhook: (serverUrl) => mountTwilioWebhook({database, settings, logger: silentLogger, serverUrl}),
      logger: silentLogger,
    })
    const opened = await openMessageQueue(database, settings)
    const controller = new AbortController()
    const handler = createSendCampaignMessageProcessor({database, keyring, get: (name) => settings.get(name), onApplied: () => notifyStatusApplied()})
    const loop = runWorker({queue: opened.queue, source: opened.source, handler, signal: controller.signal, waitSeconds: 1, retryDelaySeconds: () => 0})
    stopWorker = async () => {
      controller.abort()
      await loop
    }
  })

  afterEach(async () => {
    await stopWorker()
    await serve.stop()
    await sandbox.stop()
    await testDatabase.dispose()
  })

  const seedDemo = (slug = 'demo') =>
    seedTwilioTenant(database, keyring, {
      slug,
      accountSid: fixture.accountSid,
      authToken: fixture.authToken,
      messagingServiceSid: fixture.serviceSid,
      twilioBaseUrl: sandbox.url,
      channels: ['sms'],
      webhookUrl: `${settings.get('WEBHOOK_BASE_URL')}/webhooks/twilio`,
    })
  const count = async (table: string) => Number((await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
  const verify = (overrides: Partial<Parameters<typeof runCutoverVerify>[0]> = {}) =>
    runCutoverVerify({database, settings, keyring, logger: silentLogger, to: [RECIPIENT], timeoutMs: 20_000, ...overrides})

  it('reports every hop of a smoke message through the local queue, sent once', async () => {
    await seedDemo()

    const report = await verify()

    expect(report.ok).toBe(true)
    expect(report.path).toBe('local')
    expect(report.messages).toHaveLength(1)
    const [message] = report.messages
    expect(message!.channel).toBe('sms')
    expect(message!.to).toBe(RECIPIENT)
    expect(message!.status).toBe('delivered')
    expect(Object.keys(message!.hops).sort()).toEqual(['delivered', 'enqueued', 'sent', 'sse'])
    expect(message!.hops.sent!.ms).toBeLessThanOrEqual(message!.hops.delivered!.ms)
    expect((await sandbox.messages()).filter((sent) => sent.to === RECIPIENT)).toHaveLength(1)
    // Only the test recipient: no contact was created or messaged.
    expect(await count('contacts')).toBe(0)
    const lines = renderVerifyReport(report)
    expect(lines[0]).toMatch(/ENQUEUED\s+SENT\s+DELIVERED\s+READ\s+SSE\s+RESULT/)
    expect(lines[1]).toMatch(/demo\s+sms\s+\+15555550100\s+\d+ ms\s+\d+ ms\s+\d+ ms\s+–\s+\d+ ms\s+✓ ok/)
    expect(() => assertVerifyPassed(report)).not.toThrow()
    expect(JSON.stringify(report)).not.toContain(fixture.authToken)
  })

  it('refuses without recipients: clear UsageError, nothing created', async () => {
    await seedDemo()

    const error = await verify({to: undefined}).catch((caught: unknown) => caught)

    expect(isEngageError(error) && error.code).toBe('VERIFY_NO_RECIPIENTS')
    expect(isEngageError(error) && error.exitCode).toBe(2)
    expect((error as Error).message).toMatch(/No test recipients/)
    expect(await count('campaigns')).toBe(0)
    expect(await count('messages')).toBe(0)
  })

  it('refuses without an enabled and verified channel: clear UsageError, nothing created', async () => {
    await seedDemo()
    await database.db.updateTable('tenant_channel_settings').set({is_verified: 0}).execute()

    const error = await verify().catch((caught: unknown) => caught)
    const unknownTenant = await verify({tenant: 'nobody'}).catch((caught: unknown) => caught)

    expect(isEngageError(error) && error.code).toBe('VERIFY_NO_VERIFIED_CHANNEL')
    expect(isEngageError(error) && error.exitCode).toBe(2)
    expect((error as Error).message).toMatch(/No tenant has an enabled and verified channel/)
    expect(isEngageError(unknownTenant) && unknownTenant.exitCode).toBe(7)
    expect(await count('campaigns')).toBe(0)
    expect(await count('messages')).toBe(0)
  })

  it('names the "sent" hop when the sandbox refuses every send', async () => {
    await seedDemo()
    await sandbox.configure({rejectRecipients: {[RECIPIENT]: 21211}})

    const report = await verify()

    expect(report.ok).toBe(false)
    const [message] = report.messages
    expect(message!.failedHop).toBe('sent')
    expect(message!.status).toBe('failed')
    expect(message!.failure).toMatch(/21211/)
    expect(message!.hops.enqueued).toBeDefined()
    expect(message!.hops.sent).toBeUndefined()
    expect(renderVerifyReport(report).join('\n')).toMatch(/hop "sent" failed/)
    const error = (() => {
      try {
        assertVerifyPassed(report)
      } catch (caught) {
        return caught
      }
    })()
    expect(isEngageError(error) && error.exitCode).toBe(6)
    expect((error as Error).message).toMatch(/"sent" hop/)
  })

  it('names the "sent" hop on a timeout when sends keep failing with 500', async () => {
    await seedDemo()
    await sandbox.configure({sendFailures: {everyNth: 1, status: 500}})

    const report = await verify({timeoutMs: 2_000})

    expect(report.ok).toBe(false)
    expect(report.messages[0]!.failedHop).toBe('sent')
    expect(report.messages[0]!.failure).toMatch(/not reached within 2000 ms/)
  })
})
