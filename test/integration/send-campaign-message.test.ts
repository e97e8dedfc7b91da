import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import type {Logger} from '../../src/cli/logger.js'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {createSendCampaignMessageProcessor, type SendCampaignMessageDeps} from '../../src/pipeline/send/index.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import type {SqsEventRecord} from '../../src/queue/message-queue.js'
import {startTwilioSandbox, type SandboxCounters, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {
  createCampaign,
  createContacts,
  createQueuedMessages,
  drainQueue,
  enqueueSendJobs,
  phoneNumbers,
  receiveRecords,
  seedSesTenant,
  seedSandboxTenant,
  seedTwilioTenant,
  startCallbackSink,
  testKeyring,
  type CallbackSink,
  type MessageRow,
} from '../support/pipeline-fixtures.js'
import {PROJECT_ROOT} from '../support/run-cli.js'
import {migratedDatabase, twilioSeed} from '../support/seed-fixtures.js'
import {startSesLocal, type SesLocalServer} from '../support/ses-local.js'

/** A logger that keeps its lines, so tests can read what was said and prove what was not. */
function recordingLogger(): Logger & {lines: string[]} {
  const lines: string[] = []
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`)
  return {lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug')}
}

/** Runs a node process to its end without blocking this one (the sandbox it talks to lives here). */
function runToEnd(args: string[]): Promise<{signal: NodeJS.Signals | null; stderr: string}> {
  const child = spawn(process.execPath, args, {cwd: PROJECT_ROOT, timeout: 60_000, stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise<{signal: NodeJS.Signals | null; stderr: string}>((resolve) => child.once('close', (_code, signal) => resolve({signal, stderr})))
}

/** Provider create attempts per recipient, from the sandbox's own counters. */
function attemptsTo(counters: SandboxCounters, to: string): {attempts: number; accepted: number; sids: string[]} {
  const entries = counters.byRecipient.filter((entry) => entry.to === to)
  return {
    attempts: entries.reduce((sum, entry) => sum + entry.attempts, 0),
    accepted: entries.reduce((sum, entry) => sum + entry.accepted, 0),
    sids: entries.flatMap((entry) => entry.messageSids),
  }
}

describe.each(DIALECTS)('SendCampaignMessage over %s', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database
  let keyring: Keyring
  let keyHex: string
  let sandbox: TwilioSandbox
  let ses: SesLocalServer
  let sink: CallbackSink
  let tenantId: string
  let authToken: string
  let serviceSid: string
  let numberOffset = 0
  let queueCount = 0
  const config = () => ({TWILIO_API_BASE_URL: sandbox.url, SES_ENDPOINT: ses.endpoint}) as Record<string, string>

  beforeAll(async () => {
    const twilio = twilioSeed()
    authToken = twilio.authToken
    serviceSid = twilio.serviceSid
    ;[testDatabase, sandbox, ses, sink] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startSesLocal(), startCallbackSink()])
    database = await testDatabase.open()
    ;({keyring, hex: keyHex} = testKeyring())
    tenantId = await seedSandboxTenant(database, keyring, twilio, {twilioBaseUrl: sandbox.url, webhookUrl: sink.url})
    await seedSesTenant(database, keyring, {slug: 'acme', from: 'news@acme.example'})
  })

  afterAll(async () => {
    await Promise.allSettled([sandbox?.stop(), ses?.stop(), sink?.stop()])
    await testDatabase?.dispose()
  })

  afterEach(async () => {
    await sandbox.reset()
  })

  const processor = (overrides: Partial<SendCampaignMessageDeps> = {}) =>
    createSendCampaignMessageProcessor({database, keyring, get: (name) => config()[name], ...overrides})

  const newQueue = () => new LocalQueue({database, queueName: `send-test-${++queueCount}`, visibilityTimeoutSeconds: 60, maxReceiveCount: 50})

  async function messagesFor(channel: 'sms' | 'whatsapp' | 'email', count: number, body: string, subject?: string): Promise<MessageRow[]> {
    const campaign = await createCampaign(database, {tenantId, channel, body, subject})
    const contacts =
      channel === 'email'
        ? Array.from({length: count}, (_, index) => ({email: `person${numberOffset + index}@example.com`}))
        : phoneNumbers(count, numberOffset).map((phone) => ({phone}))
    numberOffset += count
    return createQueuedMessages(database, campaign, await createContacts(database, tenantId, contacts))
  }

  async function rows(ids: string[]) {
    const found = await database.db.selectFrom('messages').selectAll().where('id', 'in', ids).execute()
    return new Map(found.map((row) => [String(row.id), row]))
  }

  async function events(messageId: string) {
    return database.db.selectFrom('message_status_events').selectAll().where('message_id', '=', messageId).orderBy('id').execute()
  }

  /** One record, received once from a real queue, to deliver again and again. */
  async function oneRecord(message: MessageRow): Promise<SqsEventRecord> {
    const queue = newQueue()
    await enqueueSendJobs(queue, [message])
    const [record] = await receiveRecords(queue, 1)
    expect(record).toBeDefined()
    return record!
  }

  it('sends a batch of SMS, WhatsApp and email messages once each, through the sandbox and the SES emulator', async () => {
    const sms = await messagesFor('sms', 5, 'Spring sale: 20% off')
    const whatsapp = await messagesFor('whatsapp', 3, 'Your order shipped')
    const email = await messagesFor('email', 3, 'Hello from Acme', 'Acme news')
    const all = [...sms, ...whatsapp, ...email]
    const queue = newQueue()
    await enqueueSendJobs(queue, all)
    const appliedEvents: number[] = []
    const sinceSeconds = Math.floor(Date.now() / 1000) - 1

    const report = await drainQueue(queue, processor({onApplied: (ids) => appliedEvents.push(...ids)}))

    expect(report.failures).toEqual([])
    const counters = await sandbox.counters()
    for (const message of [...sms, ...whatsapp]) {
      const to = message.channel === 'whatsapp' ? `whatsapp:${message.to_address}` : message.to_address
      expect(attemptsTo(counters, to)).toMatchObject({attempts: 1, accepted: 1})
    }
    expect(counters.accepted).toBe(sms.length + whatsapp.length)
    // Every Twilio send carried the tenant's webhook URL as StatusCallback and went through the messaging service.
    expect(counters.byStatusCallback).toEqual([expect.objectContaining({statusCallback: sink.url, accepted: sms.length + whatsapp.length})])
    const twilioMessages = await sandbox.messages()
    expect(twilioMessages.every((message) => message.messaging_service_sid === serviceSid)).toBe(true)
    const emails = await ses.emails(sinceSeconds)
    for (const message of email) {
      const copies = emails.filter((mail) => mail.destination.to.includes(message.to_address))
      expect(copies).toHaveLength(1)
      expect(copies[0]).toMatchObject({from: 'news@acme.example', subject: 'Acme news', body: {text: 'Hello from Acme'}})
    }
    const stored = await rows(all.map((message) => message.id))
    for (const message of all) {
      const row = stored.get(message.id)!
      expect(row).toMatchObject({status: 'sent', attempts: 1})
      expect(row.provider_message_id).toBeTruthy()
      expect(row.sent_at).toBeTruthy()
      // The provider's own acceptance word (Twilio queued, SES accepted) is kept as an event but ranks no higher than sent.
      const history = (await events(message.id)).filter((event) => Number(event.applied) === 1)
      expect(history.map((event) => [event.status, event.source])).toEqual([
        ['sending', 'send'],
        ['sent', 'send'],
      ])
      for (const event of history) expect(appliedEvents).toContain(Number(event.id))
    }
    const sids = new Set(twilioMessages.map((message) => message.sid))
    for (const message of [...sms, ...whatsapp]) expect(sids.has(stored.get(message.id)!.provider_message_id as string)).toBe(true)
  })

  it('calls the provider once for a record delivered five times, three of them at the same moment', async () => {
    const [message] = await messagesFor('sms', 1, 'Delivered five times')
    const record = await oneRecord(message!)
    const first = processor()
    const second = processor()

    // Three copies at once, split over two processors (two Lambda containers) and one batch.
    const concurrent = await Promise.all([first({Records: [record, record]}), second({Records: [record]})])
    const fourth = await first({Records: [record]})
    const fifth = await second({Records: [record]})

    const counters = await sandbox.counters()
    expect(attemptsTo(counters, message!.to_address)).toMatchObject({attempts: 1, accepted: 1})
    expect(fourth.batchItemFailures).toEqual([])
    expect(fifth.batchItemFailures).toEqual([])
    // Copies that met the claim in flight were handed back to the queue, not sent.
    const retried = concurrent.flatMap((response) => response.batchItemFailures)
    expect(retried.every((failure) => failure.itemIdentifier === record.messageId)).toBe(true)
    const row = (await rows([message!.id])).get(message!.id)!
    expect(row).toMatchObject({status: 'sent', attempts: 1, provider_message_id: attemptsTo(counters, message!.to_address).sids[0]})
  })

  it('returns 429 answers as batch item failures and, after retries, sends every message exactly once', async () => {
    const messages = await messagesFor('sms', 30, 'Throttled campaign')
    const queue = newQueue()
    await enqueueSendJobs(queue, messages)
    await sandbox.configure({sendFailures: {ratio: 0.2, status: 429, seed: 42}})

    const report = await drainQueue(queue, processor())

    const counters = await sandbox.counters()
    expect(counters.faulted).toBeGreaterThan(0)
    expect(report.failures.length).toBe(counters.faulted)
    const stored = await rows(messages.map((message) => message.id))
    for (const message of messages) {
      const sent = attemptsTo(counters, message.to_address)
      expect(sent.accepted).toBe(1)
      const row = stored.get(message.id)!
      expect(row.status).toBe('sent')
      expect(row.provider_message_id).toBe(sent.sids[0])
      // One attempt counted per provider call, the throttled ones included.
      expect(Number(row.attempts)).toBe(sent.attempts)
    }
  })

  it('fails messages Twilio refuses for good (21211, 21610) with the reason, and does not retry them', async () => {
    const [invalid, unsubscribed, fine] = await messagesFor('sms', 3, 'Refused by some')
    await sandbox.configure({rejectRecipients: {[invalid!.to_address]: 21211}, optedOut: [unsubscribed!.to_address]})
    const queue = newQueue()
    await enqueueSendJobs(queue, [invalid!, unsubscribed!, fine!])

    const report = await drainQueue(queue, processor())
    // A redelivery of the failed ones changes nothing and calls nobody.
    const again = await processor()({Records: [await oneRecord(invalid!), await oneRecord(unsubscribed!)]})

    expect(report.failures).toEqual([])
    expect(again.batchItemFailures).toEqual([])
    const counters = await sandbox.counters()
    expect(attemptsTo(counters, invalid!.to_address)).toMatchObject({attempts: 1, accepted: 0})
    expect(attemptsTo(counters, unsubscribed!.to_address)).toMatchObject({attempts: 1, accepted: 0})
    const stored = await rows([invalid!.id, unsubscribed!.id, fine!.id])
    expect(stored.get(invalid!.id)).toMatchObject({status: 'failed', error_code: '21211', provider_message_id: null, attempts: 1})
    expect(String(stored.get(invalid!.id)!.status_reason)).toMatch(/^21211: Invalid 'To' Phone Number/)
    expect(stored.get(unsubscribed!.id)).toMatchObject({status: 'failed', error_code: '21610'})
    expect(String(stored.get(unsubscribed!.id)!.status_reason)).toMatch(/^21610: Attempt to send to unsubscribed recipient/)
    expect(stored.get(fine!.id)).toMatchObject({status: 'sent'})
    const failedEvents = await events(invalid!.id)
    expect(failedEvents.at(-1)).toMatchObject({status: 'failed', source: 'send'})
  })

  it('fails a WhatsApp message Twilio refuses with 63016 and acknowledges it', async () => {
    const [message] = await messagesFor('whatsapp', 1, 'Outside the window')
    await sandbox.configure({rejectRecipients: {[message!.to_address]: 63016}})

    const response = await processor()({Records: [await oneRecord(message!)]})

    expect(response.batchItemFailures).toEqual([])
    expect(attemptsTo(await sandbox.counters(), `whatsapp:${message!.to_address}`)).toMatchObject({attempts: 1, accepted: 0})
    const row = (await rows([message!.id])).get(message!.id)!
    expect(row).toMatchObject({status: 'failed', error_code: '63016'})
    expect(String(row.status_reason)).toMatch(/^63016: /)
  })

  it('hands a message back to the queue, unsent and claimable, while its channel is disabled', async () => {
    const [message] = await messagesFor('email', 1, 'Channel off', 'Off')
    const record = await oneRecord(message!)
    const logger = recordingLogger()
    await database.db.updateTable('tenant_channel_settings').set({is_enabled: 0, updated_at: new Date().toISOString()}).where('tenant_id', '=', tenantId).where('channel', '=', 'email').execute()
    let response
    try {
      response = await processor({logger})({Records: [record]})
    } finally {
      await database.db.updateTable('tenant_channel_settings').set({is_enabled: 1, updated_at: new Date().toISOString()}).where('tenant_id', '=', tenantId).where('channel', '=', 'email').execute()
    }
    const held = (await rows([message!.id])).get(message!.id)!
    const retried = await processor()({Records: [record]})

    expect(response.batchItemFailures).toEqual([{itemIdentifier: record.messageId}])
    expect(logger.lines.join('\n')).toMatch(/channel settings are unusable: The \S+ email channel is disabled/)
    expect(held).toMatchObject({send_claim_id: null, provider_message_id: null})
    expect(retried.batchItemFailures).toEqual([])
    expect((await rows([message!.id])).get(message!.id)).toMatchObject({status: 'sent'})
  })

  it('sends an email again after a crash that lost its outcome, since SES cannot be searched (at least once)', async () => {
    const [message] = await messagesFor('email', 1, 'Lost outcome', 'Twice at most')
    const record = await oneRecord(message!)
    let clock = Date.now()
    const now = () => new Date(clock)
    const sinceSeconds = Math.floor(Date.now() / 1000) - 1

    const crashed = await processor({now, afterProviderAccepted: () => Promise.reject(new Error('simulated crash'))})({Records: [record]})
    clock += 61_000
    const late = await processor({now, claimTimeoutMs: 60_000})({Records: [record]})

    expect(crashed.batchItemFailures).toHaveLength(1)
    expect(late.batchItemFailures).toEqual([])
    const copies = (await ses.emails(sinceSeconds)).filter((mail) => mail.destination.to.includes(message!.to_address))
    expect(copies).toHaveLength(2)
    const row = (await rows([message!.id])).get(message!.id)!
    expect(row).toMatchObject({status: 'sent', attempts: 2})
    expect(copies.map((mail) => mail.messageId)).toContain(row.provider_message_id)
  })

  it('reconciles with Twilio after a crash that followed the provider call, instead of sending again', async () => {
    const [message] = await messagesFor('whatsapp', 1, 'Crash after send')
    const record = await oneRecord(message!)
    let clock = Date.now()
    const now = () => new Date(clock)
    const crashing = processor({
      now,
      claimTimeoutMs: 60_000,
      afterProviderAccepted: () => {
        throw new Error('simulated crash between the provider call and the database write')
      },
    })

    const crashed = await crashing({Records: [record]})
    const stuck = (await rows([message!.id])).get(message!.id)!
    // Redelivered while the claim is young: the attempt may still be in flight, so no call and a retry.
    const early = await processor({now, claimTimeoutMs: 60_000})({Records: [record]})
    clock += 61_000
    const logger = recordingLogger()
    const late = await processor({now, claimTimeoutMs: 60_000, logger})({Records: [record]})

    expect(crashed.batchItemFailures).toEqual([{itemIdentifier: record.messageId}])
    expect(stuck).toMatchObject({status: 'sending', provider_message_id: null})
    expect(stuck.send_claim_id).toBeTruthy()
    expect(early.batchItemFailures).toEqual([{itemIdentifier: record.messageId}])
    expect(late.batchItemFailures).toEqual([])
    const counters = await sandbox.counters()
    const sent = attemptsTo(counters, `whatsapp:${message!.to_address}`)
    expect(sent).toMatchObject({attempts: 1, accepted: 1})
    const row = (await rows([message!.id])).get(message!.id)!
    expect(row).toMatchObject({provider_message_id: sent.sids[0], attempts: 1})
    // The status is what Twilio reports by now (the sandbox's WhatsApp lifecycle may have reached read).
    const twilioStatus = (await sandbox.messages()).find((entry) => entry.sid === sent.sids[0])!.status
    const reconciled = (await events(message!.id)).find((event) => event.source === 'reconcile')
    expect(reconciled).toMatchObject({applied: 1, provider_status: expect.stringMatching(/^(accepted|queued|sending|sent|delivered|read)$/)})
    expect(['sent', 'delivered', 'read']).toContain(row.status)
    expect(['sent', 'delivered', 'read']).toContain(reconciled!.status)
    if (twilioStatus === 'read' && reconciled!.provider_status === 'read') expect(row.status).toBe('read')
    expect(logger.lines.join('\n')).toMatch(/already at Twilio/)
    expect(logger.lines.join('\n')).not.toContain(authToken)
  })

  it('reconciles after the sending process was killed with SIGKILL right after Twilio accepted the message', async () => {
    const [message] = await messagesFor('sms', 1, 'Killed mid-send')
    const record = await oneRecord(message!)
    const dir = mkdtempSync(join(tmpdir(), 'engage-send-kill-'))
    const script = join(dir, 'send-and-die.mts')
    // A sender in its own process that dies, without running any handler, the moment the provider has the message.
    writeFileSync(
      script,
      [
        `import {openDatabase} from ${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'src/db/database.ts')).href)}`,
        `import {Keyring, parseEncryptionKey} from ${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'src/crypto/encryption-key.ts')).href)}`,
        `import {createSendCampaignMessageProcessor} from ${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'src/pipeline/send/index.ts')).href)}`,
        'const [url, key, sandboxUrl, recordJson] = process.argv.slice(2)',
        'const database = await openDatabase(url)',
        'const send = createSendCampaignMessageProcessor({database, keyring: new Keyring(parseEncryptionKey(key)), get: (name) => (name === "TWILIO_API_BASE_URL" ? sandboxUrl : undefined),',
        '  afterProviderAccepted: () => process.kill(process.pid, "SIGKILL")})',
        'await send({Records: [JSON.parse(recordJson)]})',
      ].join('\n'),
    )
    try {
      const killed = await runToEnd(['--import', 'tsx', script, testDatabase.url, keyHex, sandbox.url, JSON.stringify(record)])
      const stuck = (await rows([message!.id])).get(message!.id)!
      const late = await processor({now: () => new Date(Date.now() + 61_000), claimTimeoutMs: 60_000})({Records: [record]})

      expect(killed.signal, killed.stderr).toBe('SIGKILL')
      expect(stuck).toMatchObject({status: 'sending', provider_message_id: null, attempts: 1})
      expect(late.batchItemFailures).toEqual([])
      const sent = attemptsTo(await sandbox.counters(), message!.to_address)
      expect(sent).toMatchObject({attempts: 1, accepted: 1})
      expect((await rows([message!.id])).get(message!.id)).toMatchObject({provider_message_id: sent.sids[0], attempts: 1})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('after a 500 whose outcome is unknown, looks at Twilio first and sends only because Twilio does not have it', async () => {
    const [message] = await messagesFor('sms', 1, 'Server error first')
    const record = await oneRecord(message!)
    await sandbox.configure({sendFailures: {everyNth: 1, status: 500}})

    const first = await processor()({Records: [record]})
    const marked = (await rows([message!.id])).get(message!.id)!
    await sandbox.configure({sendFailures: null})
    const second = await processor()({Records: [record]})

    expect(first.batchItemFailures).toEqual([{itemIdentifier: record.messageId}])
    expect(String(marked.send_claim_id)).toMatch(/^unknown:/)
    expect(second.batchItemFailures).toEqual([])
    const sent = attemptsTo(await sandbox.counters(), message!.to_address)
    expect(sent).toMatchObject({attempts: 2, accepted: 1})
    expect((await rows([message!.id])).get(message!.id)).toMatchObject({status: 'sent', provider_message_id: sent.sids[0], attempts: 2})
  })

  it('acknowledges, and logs, a body that is not a send job and a job for a message that does not exist', async () => {
    const [message] = await messagesFor('sms', 1, 'Real one')
    const record = await oneRecord(message!)
    const logger = recordingLogger()
    const malformed = {...record, messageId: 'malformed-1', body: '{"v":1,"messageId":'}
    const missing = {...record, messageId: 'missing-1', body: JSON.stringify({v: 1, messageId: 'no-such-message', tenantId, channel: 'sms', campaignId: null})}

    const response = await processor({logger})({Records: [malformed, missing]})

    expect(response.batchItemFailures).toEqual([])
    expect(logger.lines.join('\n')).toMatch(/record malformed-1 dropped: The queue message body is not JSON/)
    expect(logger.lines.join('\n')).toMatch(/message no-such-message does not exist/)
    expect((await sandbox.counters()).creates).toBe(0)
    expect((await rows([message!.id])).get(message!.id)).toMatchObject({status: 'queued', attempts: 0})
  })

  it('picks up re-seeded settings: the next send uses the new webhook URL', async () => {
    const [before] = await messagesFor('sms', 1, 'Before re-seed')
    const [after] = await messagesFor('sms', 1, 'After re-seed')
    const send = processor()
    const other = await startCallbackSink('/hooks/v2')
    try {
      await send({Records: [await oneRecord(before!)]})
      const twilio = twilioSeedCredentials()
      // Settings rows keep their updated_at to the millisecond; make sure the re-seed gets a new one.
      await new Promise((resolve) => setTimeout(resolve, 5))
      await seedTwilioTenant(database, keyring, {...twilio, slug: 'acme', twilioBaseUrl: sandbox.url, webhookUrl: other.url})
      await send({Records: [await oneRecord(after!)]})

      const callbacks = (await sandbox.counters()).byStatusCallback
      expect(callbacks.find((entry) => entry.statusCallback === sink.url)?.accepted).toBe(1)
      expect(callbacks.find((entry) => entry.statusCallback === other.url)?.accepted).toBe(1)
    } finally {
      await seedTwilioTenant(database, keyring, {...twilioSeedCredentials(), slug: 'acme', twilioBaseUrl: sandbox.url, webhookUrl: sink.url})
      await other.stop()
    }
  })

  function twilioSeedCredentials() {
    const account = sandbox.initialSeed.accounts[0]!
    return {accountSid: account.sid, authToken: account.authToken, messagingServiceSid: serviceSid}
  }
})
